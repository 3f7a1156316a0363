import assert from 'node:assert';
import { api } from '../../helpers';

describe('health and unknown routes', () => {
  it('GET /healthz answers while the process is alive', async () => {
    const res = await api('GET', '/healthz');
    assert.strictEqual(res.status, 200);
    assert.strictEqual(res.body.data.status, 'ok');
  });

  it('GET /readyz checks the database', async () => {
    const res = await api('GET', '/readyz');
    assert.strictEqual(res.status, 200);
    assert.strictEqual(res.body.data.checks.database, 'ok');
  });

  it('an unknown route is 404 / 10005 in the envelope', async () => {
    const res = await api('GET', '/api/nothing-here');
    assert.strictEqual(res.status, 404);
    assert.strictEqual(res.body.code, 10005);
  });
});
