import assert from 'node:assert';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { refusedAddress, RefusedDestination, send } from '../../lib/outbound-http';

describe('lib/outbound-http', () => {
  let server: http.Server;
  let port = 0;
  const strict = { refusePrivate: true };
  const open = { refusePrivate: false };
  const post = (url: string, policy = open, extra: Partial<Parameters<typeof send>[0]> = {}) =>
    send({ url, headers: {}, body: 'x', timeoutMs: 1000, policy, protocols: [ 'http:' ], ...extra });

  before(async () => {
    server = http.createServer((req, res) => {
      if (req.url === '/redirect') res.writeHead(302, { location: 'http://169.254.169.254/' }).end();
      else if (req.url === '/big') res.end('z'.repeat(100_000));
      else if (req.url === '/slow') setTimeout(() => res.end('late'), 2000);
      else res.end('ok');
    });
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('classifies addresses: link-local, unspecified and multicast always; loopback and private by policy', () => {
    for (const a of [ '169.254.169.254', 'fe80::1', '0.0.0.0', '::', '224.0.0.1' ]) assert.ok(refusedAddress(a, open), a);
    for (const a of [ '127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '::1', 'fd00::1', '::ffff:10.0.0.1', '100.64.0.1' ]) {
      assert.ok(refusedAddress(a, strict), a);
      assert.strictEqual(refusedAddress(a, open), null, a);
    }
    for (const a of [ '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8' ]) assert.strictEqual(refusedAddress(a, strict), null, a);
  });

  it('refuses an address written in the URL at send time (Node skips the lookup for it)', async () => {
    await assert.rejects(post(`http://127.0.0.1:${port}/`, strict), RefusedDestination);
  });

  it('refuses a name that resolves to a refused address when it connects', async () => {
    await assert.rejects(post(`http://localhost:${port}/`, strict), RefusedDestination);
  });

  it('sends where the policy allows', async () => {
    const reply = await post(`http://localhost:${port}/`);
    assert.deepStrictEqual([ reply.status, reply.body ], [ 200, 'ok' ]);
  });

  it('does not follow redirects', async () => {
    assert.strictEqual((await post(`http://127.0.0.1:${port}/redirect`)).status, 302);
  });

  it('reads a reply up to the cap', async () => {
    assert.strictEqual((await post(`http://127.0.0.1:${port}/big`, open, { maxReplyBytes: 1000 })).body.length, 1000);
  });

  it('gives up at the deadline', async () => {
    await assert.rejects(post(`http://127.0.0.1:${port}/slow`, open, { timeoutMs: 200 }), /within 200 ms/);
  });

  it('refuses other schemes', async () => {
    await assert.rejects(post(`https://127.0.0.1:${port}/`, open, { protocols: [ 'http:' ] }), RefusedDestination);
  });
});
