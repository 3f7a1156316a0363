/**
 * Finding 4: the login and reset limits read the failure count, then verified the secret, then added
 * the failure: parallel guesses all passed the read (8 of 40 were checked with a limit of 5, more with
 * more in parallel). And 5 wrong attempts by anyone made the owner's right password 429 for 15 minutes.
 * Now every attempt is counted before the check (given back when it succeeds), and past the free
 * failures each client address waits a doubling delay between its attempts on the account, so a guesser
 * elsewhere never locks the owner out.
 */
import assert from 'node:assert';
import mm from 'egg-mock';
import { app, baseUrl, signup } from '../helpers';
import { request } from './helpers';

const free = () => app.config.rateLimit.accountFailures.points;

describe('security: password and answer guessing is counted before the check, without locking the owner out (finding 4)', () => {
  it('of 40 parallel wrong logins for one account, only the free ones and one turn reach the check; the rest are 429 with Retry-After', async () => {
    const u = await signup();
    const base = await baseUrl();
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      request(base, 'POST', '/api/login', { body: { username: u.username, password: `guess number ${i}` } })));
    const checked = replies.filter(r => r.status === 401);
    const refused = replies.filter(r => r.status === 429);
    assert.strictEqual(checked.length, free() + 1, replies.map(r => r.status).join(' '));
    assert.strictEqual(refused.length, 40 - free() - 1);
    for (const r of refused) {
      assert.strictEqual(r.body.code, 20009);
      assert.ok(Number(r.headers['retry-after']) > 0, String(r.headers['retry-after']));
    }
  });

  it('the same holds for security-question answers', async () => {
    const u = await signup({ question: 'First pet?', answer: 'Rex' });
    const base = await baseUrl();
    const replies = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      request(base, 'POST', '/api/password/reset', { body: { username: u.username, answer: `pet${i}`, newPassword: 'another long password' } })));
    assert.strictEqual(replies.filter(r => r.status === 401).length, free() + 1, replies.map(r => r.status).join(' '));
    assert.ok(replies.every(r => r.status === 401 || (r.status === 429 && r.body.code === 20009)));
  });

  it('after a guesser\'s failures from another address, the owner logs in at once with the right password', async () => {
    const u = await signup();
    const base = await baseUrl();
    for (let i = 0; i <= free(); i++) {
      const res = await request(base, 'POST', '/api/login', { from: '127.0.0.2', body: { username: u.username, password: `guess number ${i}` } });
      assert.strictEqual(res.status, 401);
    }
    const guesser = await request(base, 'POST', '/api/login', { from: '127.0.0.2', body: { username: u.username, password: u.password } });
    assert.strictEqual(guesser.status, 429, 'the guesser\'s address waits');
    const owner = await request(base, 'POST', '/api/login', { from: '127.0.0.3', body: { username: u.username, password: u.password } });
    assert.strictEqual(owner.status, 200, JSON.stringify(owner.body));
  });

  it('successful logins give their attempt back: they never use up the address\'s failure budget', async () => {
    mm(app.config.rateLimit, 'ipFailures', { points: 3, duration: 60 });
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const base = await baseUrl();
    const from = `127.0.${Math.floor(Math.random() * 200) + 10}.${Math.floor(Math.random() * 250) + 2}`;
    for (let i = 0; i < 5; i++) {
      const ok = await request(base, 'POST', '/api/login', { from, body: { username: a.username, password: a.password } });
      assert.strictEqual(ok.status, 200, JSON.stringify(ok.body));
    }
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await request(base, 'POST', '/api/login', { from, body: { username: b.username, password: `wrong ${i} password` } })).status);
    assert.deepStrictEqual(statuses, [ 401, 401, 401, 429 ]);
  });
});
