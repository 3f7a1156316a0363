import assert from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { api, app, connectOk, emitAck, signup, uniqueName } from '../helpers';
import { admin } from '../integration-helpers';

/**
 * Webhook URLs are the admins' (trusted, and usually on the team's own network, so private
 * addresses are allowed unless WEBHOOK_REFUSE_PRIVATE=1), but never link-local or reserved ones:
 * a stolen admin account must not read the cloud's metadata service through the server. The
 * `before.message` reply is read up to a cap, so a hostile endpoint cannot fill the memory.
 */
describe('security: webhook URLs and replies (PROTOCOL §9)', () => {
  let token: string;

  before(async () => {
    await app.ready();
    token = (await admin()).token;
  });

  for (const url of [ 'http://169.254.169.254/latest/meta-data', 'http://[fe80::1]/hook', 'http://0.0.0.0:80/hook', 'http://224.0.0.1/hook' ]) {
    it(`refuses ${url} (400 / 20002)`, async () => {
      const res = await api('POST', '/api/admin/webhooks', { token, body: { url, events: [ 'user.online' ] } });
      assert.strictEqual(res.status, 400);
      assert.strictEqual(res.body.code, 20002);
    });
  }

  it('refuses non-http schemes and URLs with credentials', async () => {
    for (const url of [ 'file:///etc/passwd', 'gopher://127.0.0.1/', 'http://user:pass@example.com/hook' ]) {
      const res = await api('POST', '/api/admin/webhooks', { token, body: { url, events: [ 'user.online' ] } });
      assert.strictEqual(res.status, 400, url);
    }
  });

  it('with WEBHOOK_REFUSE_PRIVATE, refuses loopback too', async () => {
    app.config.webhooks.refusePrivate = true;
    try {
      const res = await api('POST', '/api/admin/webhooks', { token, body: { url: 'http://127.0.0.1:9/hook', events: [ 'user.online' ] } });
      assert.strictEqual(res.status, 400);
    } finally {
      app.config.webhooks.refusePrivate = false;
    }
  });

  it('a before.message reply larger than the cap counts as no answer', async () => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // a verdict padded far past the cap: cut off, it no longer parses
      res.end(JSON.stringify({ action: 'reject', reason: 'x', pad: 'y'.repeat(app.config.message.maxContentBytes * 4) }));
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    const created = await api('POST', '/api/admin/webhooks', { token, body: { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, events: [ 'before.message' ] } });
    try {
      const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
      const ack = await emitAck(await connectOk({ token: alice.token }), 'to', { to: bob.id, type: 1, content: 'x', fp: uniqueName('fp') }, 10000);
      // the default policy allows a send without a usable answer
      assert.strictEqual(ack.code, 0);
    } finally {
      await api('DELETE', `/api/admin/webhooks/${created.body.data._id}`, { token });
      server.closeAllConnections();
      server.close();
    }
  });
});
