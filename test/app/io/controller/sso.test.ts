import assert from 'node:assert';
import mm from 'egg-mock';
import { api, app, connect, connectOk, emitAck, notWithin, sleep, waitFor, type ClientVersion, type Transport } from '../../../helpers';

const newDeviceId = async () => (await api('GET', '/api/qrcode')).body.data.deviceId as string;

/** Expects the server to refuse the socket: im_error with `code`, then a disconnect. */
async function expectRefused(socket: any, code: number) {
  const [ err ] = await Promise.all([ waitFor(socket, 'im_error'), waitFor(socket, 'disconnect') ]);
  assert.strictEqual(err.code, code, JSON.stringify(err));
  assert.strictEqual(err.data.action, 'IMERROR');
  assert.ok(err.meta.msg);
  assert.strictEqual(socket.connected, false);
}

describe('/sso namespace (PROTOCOL §5)', () => {
  for (const version of [ 'v2', 'v4' ] as ClientVersion[]) {
    for (const transport of [ 'websocket', 'polling' ] as Transport[]) {
      it(`${version} over ${transport}: a pending device_id connects and qrlogin answers 'pong' as the reply event`, async () => {
        const socket = await connectOk({ version, transport, nsp: '/sso', query: { device_id: await newDeviceId() } });
        const reply = waitFor(socket, 'qrlogin');
        socket.emit('qrlogin');
        const env = await reply;
        assert.strictEqual(env.code, 0);
        assert.strictEqual(env.data.action, 'SSO_QRLOGIN');
        assert.strictEqual(env.data.payload, 'pong');
        assert.strictEqual(typeof env.meta.timestamp, 'number');
      });
    }

    it(`${version}: with an ack callback the pong goes to the ack only`, async () => {
      const socket = await connectOk({ version, nsp: '/sso', query: { device_id: await newDeviceId() } });
      const noEvent = notWithin(socket, 'qrlogin', 300);
      const env = await emitAck(socket, 'qrlogin');
      assert.strictEqual(env.code, 0);
      assert.strictEqual(env.data.action, 'SSO_QRLOGIN');
      assert.strictEqual(env.data.payload, 'pong');
      assert.ok(await noEvent, 'the reply event was emitted as well as the ack');
    });

    it(`${version}: an unknown device_id is im_error 20006 and a disconnect`, async () => {
      await expectRefused(await connect({ version, nsp: '/sso', query: { device_id: 'f'.repeat(32) } }), 20006);
    });

    it(`${version}: a missing device_id is im_error 20006 and a disconnect`, async () => {
      await expectRefused(await connect({ version, nsp: '/sso' }), 20006);
    });
  }

  it('an expired device_id is refused with 20006', async () => {
    mm(app.config.qrcode, 'ttl', 1);
    const deviceId = await newDeviceId();
    await connectOk({ nsp: '/sso', query: { device_id: deviceId } });
    await sleep(1100);
    await expectRefused(await connect({ nsp: '/sso', query: { device_id: deviceId } }), 20006);
  });
});
