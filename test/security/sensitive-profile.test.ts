/**
 * Finding 8: `PATCH /api/users/me` changed `email`, `question` and `answer` with the access token alone:
 * a stolen token became a permanent takeover through the password reset. Those fields now need the
 * current password (`currentPassword`): missing 400 / 20002, wrong 401 / 20007, counted like a wrong
 * login.
 */
import assert from 'node:assert';
import { api, signup, uniqueName } from '../helpers';
import { expectError } from '../social-helpers';

describe('security: changing e-mail or the security question needs the current password (finding 8)', () => {
  it('a new security question and answer without currentPassword is 400 / 20002, and that answer resets nothing', async () => {
    const u = await signup({ question: 'First pet?', answer: 'Rex' });
    expectError(await api('PATCH', '/api/users/me', { token: u.token, body: { question: 'Colour?', answer: 'thief-chosen' } }), 400, 20002);
    const reset = await api('POST', '/api/password/reset', { body: { username: u.username, answer: 'thief-chosen', newPassword: 'stolen account password' } });
    expectError(reset, 401, 20007);
  });

  it('a new e-mail without currentPassword is 400 / 20002 and the e-mail stays', async () => {
    const email = `${uniqueName('own')}@example.com`;
    const u = await signup({ email });
    expectError(await api('PATCH', '/api/users/me', { token: u.token, body: { email: `${uniqueName('thief')}@example.com` } }), 400, 20002);
    assert.strictEqual((await api('GET', '/api/users/me', { token: u.token })).body.data.email, email);
  });

  it('a wrong currentPassword is 401 / 20007 and changes nothing', async () => {
    const email = `${uniqueName('own')}@example.com`;
    const u = await signup({ email });
    const res = await api('PATCH', '/api/users/me', { token: u.token, body: { email: `${uniqueName('thief')}@example.com`, nickname: 'Thief', currentPassword: 'not the password' } });
    expectError(res, 401, 20007);
    const me = (await api('GET', '/api/users/me', { token: u.token })).body.data;
    assert.deepStrictEqual([ me.email, me.nickname ], [ email, u.username ]);
  });

  it('with the right currentPassword the e-mail and the question change', async () => {
    const u = await signup();
    const email = `${uniqueName('new')}@example.com`;
    const res = await api('PATCH', '/api/users/me', { token: u.token, body: { email, question: 'Colour?', answer: 'Blue', currentPassword: u.password } });
    assert.strictEqual(res.status, 200, JSON.stringify(res.body));
    assert.deepStrictEqual([ res.body.data.email, res.body.data.question ], [ email, 'Colour?' ]);
  });

  it('wrong current passwords count as failed logins: past the free ones the caller waits (429 / 20009)', async () => {
    const u = await signup();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      statuses.push((await api('PATCH', '/api/users/me', { token: u.token, body: { email: `${uniqueName('t')}@example.com`, currentPassword: `guess ${i}` } })).status);
    }
    assert.deepStrictEqual(statuses, [ 401, 401, 401, 401, 401, 401, 429 ]);
  });

  it('other fields still change with the token alone', async () => {
    const u = await signup();
    const res = await api('PATCH', '/api/users/me', { token: u.token, body: { nickname: 'Neo', intro: 'hi' } });
    assert.strictEqual(res.status, 200, JSON.stringify(res.body));
  });
});
