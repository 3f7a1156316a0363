import assert from 'node:assert';
import { AppError, ErrorCode, isBusy } from '../../lib/errors';
import { withinDeadline } from '../../lib/deadline';

describe('lib/errors', () => {
  it('work past its deadline is busy, not a failure', async () => {
    const late = await withinDeadline(new Promise(() => undefined), 1, 'work').catch(err => err);
    assert.strictEqual(isBusy(late), true);
  });

  it('no database connection free within the pool\'s wait is busy', () => {
    const err = new Error('Timed out while checking out a connection from connection pool');
    err.name = 'MongoWaitQueueTimeoutError';
    assert.strictEqual(isBusy(err), true);
  });

  it('any other failure is not busy', () => {
    assert.deepStrictEqual([ isBusy(new Error('write failed')), isBusy(new AppError(ErrorCode.SERVER_ERROR, 'x')), isBusy('nope') ], [ false, false, false ]);
  });

  it('a refusal carries no stack frames; a 50000 keeps its stack', () => {
    const refusal = new AppError(ErrorCode.RATE_LIMITED, 'later');
    const fault = new AppError(ErrorCode.SERVER_ERROR, 'broken');
    assert.deepStrictEqual([ /\n\s+at /.test(refusal.stack ?? ''), /\n\s+at /.test(fault.stack ?? '') ], [ false, true ]);
  });
});
