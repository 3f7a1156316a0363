/**
 * Finding 7: with TRUST_PROXY=1 the leftmost X-Forwarded-For entry was taken as the client's address,
 * and the client writes that entry itself: every per-address limit was bypassed by sending a random
 * header. TRUST_PROXY=<n> now says how many proxies stand in front, and the address is the one the
 * nearest of them saw (the n-th entry from the right).
 */
import assert from 'node:assert';
import crypto from 'node:crypto';
import type { MockApplication } from 'egg-mock';
import { appWithEnv, request, serve } from './helpers';

/** an address of TEST-NET-3 no other run uses in the rate limiter's window */
const someAddress = () => `203.0.113.${crypto.randomInt(1, 255)}, 198.51.100.${crypto.randomInt(1, 255)}`.split(', ')[crypto.randomInt(0, 2)];
const prodEnv = (proxies: string) => ({
  EGG_SERVER_ENV: 'prod', TRUST_PROXY: proxies, RATE_LIMIT_SIGNUP: '2/60',
  JWT_SECRET: crypto.randomBytes(32).toString('hex'), COOKIE_KEYS: crypto.randomBytes(32).toString('hex'), CORS_ORIGIN: 'https://chat.example',
});

describe('security: behind proxies the client address is the one the nearest proxy saw (finding 7)', function() {
  this.timeout(60000);
  let app: MockApplication;
  let server: { url: string; close(): Promise<void> };
  const signupVia = (xff: string) => request(server.url, 'POST', '/api/signup', {
    body: { username: `p${crypto.randomBytes(6).toString('hex')}`, password: 'correct horse battery' },
    headers: { 'x-forwarded-for': xff },
  });

  describe('TRUST_PROXY=1 (one proxy)', () => {
    before(async () => {
      app = await appWithEnv(prodEnv('1'));
      server = await serve(app);
    });
    after(async () => {
      await server?.close();
      await app?.close();
    });

    it('a random leftmost X-Forwarded-For entry does not make a new client: the third signup is 429 / 20009', async () => {
      const client = someAddress();
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await signupVia(`10.${crypto.randomInt(256)}.${crypto.randomInt(256)}.1, ${client}`)).status);
      assert.deepStrictEqual(statuses, [ 201, 201, 429 ]);
    });

    it('two clients behind the proxy are counted apart', async () => {
      const [ one, two ] = [ someAddress(), someAddress() ].map((a, i) => `${a.split('.').slice(0, 3).join('.')}.${i === 0 ? 1 : 2}`);
      const statuses = [ (await signupVia(one)).status, (await signupVia(one)).status, (await signupVia(two)).status ];
      assert.deepStrictEqual(statuses, [ 201, 201, 201 ]);
    });
  });

  describe('TRUST_PROXY=2 (a CDN, then our proxy)', () => {
    before(async () => {
      app = await appWithEnv(prodEnv('2'));
      server = await serve(app);
    });
    after(async () => {
      await server?.close();
      await app?.close();
    });

    it('the client is the second entry from the right, whatever comes before it', async () => {
      const client = someAddress();
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await signupVia(`10.9.${crypto.randomInt(256)}.1, ${client}, 192.0.2.10`)).status);
      assert.deepStrictEqual(statuses, [ 201, 201, 429 ]);
    });
  });
});
