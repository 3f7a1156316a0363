import assert from 'node:assert';
import { api, app, signup } from '../../helpers';

describe('schedule/session_cleanup', () => {
  let live: Awaited<ReturnType<typeof signup>>;
  let gone: Awaited<ReturnType<typeof signup>>;
  let goneSession: string;
  // one run over an expired session and a live one; the its only read the outcome
  before(async () => {
    [ live, gone ] = await Promise.all([ signup(), signup() ]);
    goneSession = gone.refreshToken.split('.')[0];
    await app.model.Session.updateOne({ _id: goneSession }, { $set: { expiresAt: new Date(Date.now() - 1000) } });
    await app.runSchedule('session_cleanup');
  });

  it('removes an expired session: it is gone and its token no longer validates', async () => {
    assert.strictEqual(await app.model.Session.countDocuments({ _id: goneSession }), 0);
    assert.strictEqual((await api('POST', '/api/validate', { body: { token: gone.token } })).status, 401);
  });

  it('keeps live sessions', async () => {
    assert.strictEqual((await api('POST', '/api/validate', { body: { token: live.token } })).status, 200);
  });
});
