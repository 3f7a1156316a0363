import assert from 'node:assert';
import { GroupCommit, type Outcome } from '../../lib/group-commit';

interface Req { key: string; n: number }
function queue(commit: (batch: Req[]) => Promise<Array<Outcome<number>>>, timeoutMs = 1000) {
  return new GroupCommit<Req, number>({
    commit, key: r => r.key, batchMax: 100, timeoutMs,
    timeoutError: r => new Error(`timeout ${r.key}`), failureError: err => new Error(`failed: ${(err as Error).message}`),
  });
}

describe('lib/group-commit', () => {
  it('requests that arrive while a batch commits go together in the next batch', async () => {
    const batches: number[] = [];
    const q = queue(async batch => {
      batches.push(batch.length);
      await new Promise(resolve => setTimeout(resolve, 20));
      return batch.map(r => ({ ok: r.n }));
    });
    const first = q.submit({ key: 'a', n: 1 });
    await new Promise(resolve => setImmediate(resolve));
    await Promise.all([ first, ...[ 2, 3, 4 ].map(n => q.submit({ key: `k${n}`, n })) ]);
    assert.deepStrictEqual(batches, [ 1, 3 ]);
  });

  it('a request with the key of one still waiting joins it and gets the same answer', async () => {
    let commits = 0;
    const q = queue(async batch => {
      commits += batch.length;
      return batch.map(r => ({ ok: r.n }));
    });
    const answers = await Promise.all([ q.submit({ key: 'same', n: 1 }), q.submit({ key: 'same', n: 2 }) ]);
    assert.deepStrictEqual([ answers, commits ], [ [ 1, 1 ], 1 ]);
  });

  it('a request answered "retry" is committed again', async () => {
    let tries = 0;
    const q = queue(async batch => batch.map(r => (++tries < 3 ? { retry: true as const } : { ok: r.n })));
    assert.strictEqual(await q.submit({ key: 'r', n: 7 }), 7);
  });

  it('a request still not committed at its deadline gets the timeout error', async () => {
    const q = queue(async batch => batch.map(() => ({ retry: true as const })), 50);
    await assert.rejects(q.submit({ key: 't', n: 1 }), /timeout t/);
  });

  it('a commit that throws fails every request of its batch with the failure error', async () => {
    const q = queue(async () => { throw new Error('db down'); });
    await assert.rejects(q.submit({ key: 'f', n: 1 }), /failed: db down/);
  });
});
