import assert from 'node:assert';
import { app, signup } from '../../helpers';
import { commandsDuring, describeCommands } from '../../db-commands';

/** Access-token checks (app/service/auth.ts): the session behind each token is read, together under load. */
describe('app/service/auth: access tokens', () => {
  it('the checks of many tokens at once read their sessions in one command', async () => {
    const users = await Promise.all(Array.from({ length: 10 }, () => signup()));
    const auth = app.mockContext().service.auth;
    let claims: Array<{ userId: string }> = [];
    const seen = await commandsDuring(async () => {
      claims = await Promise.all(users.map(u => auth.verifyAccessToken(u.token)));
    });
    assert.deepStrictEqual(claims.map(c => c.userId), users.map(u => u.id));
    assert.strictEqual(seen.filter(c => c.collection === 'sessions').length, 1, describeCommands(seen));
  });

  it('a session revoked a moment ago refuses its token at once (nothing is cached)', async () => {
    const u = await signup();
    const auth = app.mockContext().service.auth;
    const { sessionId } = await auth.verifyAccessToken(u.token);
    await app.model.Session.updateOne({ _id: sessionId }, { $set: { revokedAt: new Date() } });
    await assert.rejects(auth.verifyAccessToken(u.token), (err: { code?: number }) => err.code === 20001);
  });
});
