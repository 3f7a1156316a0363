import assert from 'node:assert';
import { CoalescingLoader } from '../../lib/coalescing-loader';

describe('lib/coalescing-loader', () => {
  it('loads that arrive while a read is in flight share the next read', async () => {
    const calls: string[][] = [];
    let release!: () => void;
    const gate = new Promise<void>(resolve => { release = resolve; });
    const loader = new CoalescingLoader<string, string>(async keys => {
      calls.push(keys);
      if (calls.length === 1) await gate;
      return new Map(keys.map(k => [ k, k.toUpperCase() ]));
    });
    const first = loader.load('a');
    await new Promise(resolve => setImmediate(resolve));
    const rest = [ loader.load('b'), loader.load('c'), loader.load('b') ];
    release();
    assert.deepStrictEqual(await Promise.all([ first, ...rest ]), [ 'A', 'B', 'C', 'B' ]);
    assert.deepStrictEqual(calls, [[ 'a' ], [ 'b', 'c' ]]);
  });

  it('a failed read fails its callers only; the next read runs', async () => {
    let fail = true;
    const loader = new CoalescingLoader<string, number>(async keys => {
      if (fail) { fail = false; throw new Error('database gone'); }
      return new Map(keys.map(k => [ k, k.length ]));
    });
    await assert.rejects(loader.load('x'), /database gone/);
    assert.strictEqual(await loader.load('yy'), 2);
    assert.strictEqual(await loader.load('missing-key-is-fine'), 19);
  });
});
