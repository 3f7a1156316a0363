import assert from 'node:assert';
import { RetryAfter } from '../../lib/retry-after';

describe('lib/retry-after', () => {
  it('before anything was observed it says the lower bound, spread by at most 25 %', () => {
    const hint = new RetryAfter(400, 10_000);
    for (let i = 0; i < 50; i++) {
      const ms = hint.ms;
      assert.ok(ms >= 300 && ms <= 500, String(ms));
    }
  });

  it('it follows the answer times: about twice their average', () => {
    const hint = new RetryAfter(100, 10_000);
    for (let i = 0; i < 500; i++) hint.observe(1000);
    const ms = hint.ms;
    assert.ok(ms >= 1500 && ms <= 2500, String(ms));
  });

  it('it never says more than the upper bound (plus its spread)', () => {
    const hint = new RetryAfter(100, 2000);
    for (let i = 0; i < 500; i++) hint.observe(60_000);
    assert.ok(hint.ms <= 2500);
  });
});
