import assert from 'node:assert';
import { api, app, signup } from '../../helpers';

describe('schedule/session_cleanup', () => {
  it('removes expired sessions and keeps live ones', async () => {
    const live = await signup();
    const gone = await signup();
    const { Session } = app.model;
    const goneSession = gone.refreshToken.split('.')[0];
    await Session.updateOne({ _id: goneSession }, { $set: { expiresAt: new Date(Date.now() - 1000) } });

    await app.runSchedule('session_cleanup');

    assert.strictEqual(await Session.countDocuments({ _id: goneSession }), 0);
    assert.strictEqual((await api('POST', '/api/validate', { body: { token: gone.token } })).status, 401);
    assert.strictEqual((await api('POST', '/api/validate', { body: { token: live.token } })).status, 200);
  });
});
