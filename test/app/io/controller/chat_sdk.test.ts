import assert from 'node:assert';
import ioV2 from 'socket.io-client-v2';
import { app, baseUrl, connectOk, emitAck, notWithin, signup, sleep, waitFor, type AnySocket, type TestUser } from '../../../helpers';

/**
 * The im-client-sdk (TDsunrui/live-chat `src/client-sdk`, socket.io-client 2) must work unchanged.
 * `sdkClient` does on the wire exactly what the SDK does: websocket only on path `/ws`; on every
 * `connect` it emits `offline_message` and `readed_message` without payload; an `offline_message`
 * reply with code 0 is acked as `{data: <its payload>}` (also when empty); a `c_message` with code 0
 * is acked with the whole received message object. None of its emits carries an ack callback, so a
 * refusal can only reach it as `im_error`.
 */
interface SdkClient {
  socket: AnySocket;
  /** every `im_error` and socket `error` it got (the SDK throws on the latter) */
  errors: unknown[];
  /** `offline_message` replies, in order */
  pulls: any[];
  /** `c_message` events, in order */
  messages: any[];
}

const clients = new Set<AnySocket>();
afterEach(() => {
  for (const s of clients) s.close();
  clients.clear();
});

async function sdkClient(user: TestUser): Promise<SdkClient> {
  const socket = ioV2(`${await baseUrl()}/chat`, { path: '/ws', transports: [ 'websocket' ], query: { token: user.token }, forceNew: true, timeout: 5000 });
  clients.add(socket);
  const client: SdkClient = { socket, errors: [], pulls: [], messages: [] };
  socket.on('connect', () => {
    socket.emit('offline_message');
    socket.emit('readed_message');
  });
  socket.on('error', (e: unknown) => client.errors.push({ error: String(e) }));
  socket.on('im_error', (e: unknown) => client.errors.push(e));
  socket.on('offline_message', (msg: any) => {
    client.pulls.push(msg);
    if (msg.code === 0) socket.emit('c_message_ack', { data: msg.data.payload });
  });
  socket.on('c_message', (msg: any) => {
    client.messages.push(msg);
    if (msg.code === 0) socket.emit('c_message_ack', msg.data.payload);
  });
  return client;
}

/** The next `offline_message` reply the SDK client gets. */
const nextPull = (client: SdkClient) => waitFor(client.socket, 'offline_message', 5000);

/**
 * Pulls (without acking) from another device of the same user until `id` is no longer pending:
 * the SDK's ack has no callback, so this is how the test knows the server has applied it.
 */
async function untilNotPending(observer: AnySocket, id: string, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const reply = await emitAck(observer, 'offline_message');
    assert.strictEqual(reply.code, 0, JSON.stringify(reply));
    if (!reply.data.payload.some((m: any) => m._id === id)) return;
    if (Date.now() > deadline) throw new Error(`message ${id} still pending ${ms} ms after the SDK acked it`);
    await sleep(50);
  }
}

describe('/chat with the im-client-sdk (socket.io-client 2, unmodified)', () => {
  it('connect → both pulls → empty ack → a message and its whole-object ack → reconnect: nothing pulled again, no im_error', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sdk = await sdkClient(b);
    const firstPull = nextPull(sdk);
    const firstReceipts = waitFor(sdk.socket, 'to_reader', 5000);
    const pulled = await firstPull;
    assert.strictEqual(pulled.code, 0, JSON.stringify(pulled));
    assert.deepStrictEqual(pulled.data.payload, []);
    assert.strictEqual((await firstReceipts).code, 0);
    // the SDK has now acked {data: []}

    const sender = await connectOk({ version: 'v4', token: a.token });
    const incoming = waitFor(sdk.socket, 'c_message', 5000);
    const sent = await emitAck(sender, 'to', { type: 1, to: b.id, content: 'hello sdk', fp: `sdk-${Date.now()}` });
    assert.strictEqual(sent.code, 0, JSON.stringify(sent));
    const got = await incoming;
    assert.strictEqual(got.data.payload._id, sent.data.payload._id);
    // the SDK has now acked the whole message object

    const observer = await connectOk({ version: 'v4', token: b.token, query: { deviceType: 'MOBILE' } });
    await untilNotPending(observer, sent.data.payload._id);

    sdk.socket.close();
    const secondPull = nextPull(sdk);
    sdk.socket.open();
    const again = await secondPull;
    assert.strictEqual(again.code, 0, JSON.stringify(again));
    assert.deepStrictEqual(again.data.payload, []);
    await notWithin(sdk.socket, 'im_error', 500); // anything arriving meanwhile lands in sdk.errors
    assert.deepStrictEqual(sdk.errors, []);
    assert.strictEqual(sdk.socket.connected, true);
  });

  it('an offline pull holding messages and a system notice is acked whole by the SDK: none of them comes back', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sender = await connectOk({ version: 'v4', token: a.token });
    const ids: string[] = [];
    for (const content of [ 'one', 'two' ]) {
      const sent = await emitAck(sender, 'to', { type: 1, to: b.id, content, fp: `sdk-${content}-${Date.now()}` });
      assert.strictEqual(sent.code, 0, JSON.stringify(sent));
      ids.push(sent.data.payload._id);
    }
    const notice = await app.messages.notify({ to: b.id, content: 'maintenance tonight' });
    ids.push(notice._id);

    const sdk = await sdkClient(b);
    const pulled = await nextPull(sdk);
    assert.strictEqual(pulled.code, 0, JSON.stringify(pulled));
    assert.deepStrictEqual(pulled.data.payload.map((m: any) => m._id).sort(), [ ...ids ].sort());

    const observer = await connectOk({ version: 'v4', token: b.token, query: { deviceType: 'MOBILE' } });
    for (const id of ids) await untilNotPending(observer, id);
    sdk.socket.close();
    const secondPull = nextPull(sdk);
    sdk.socket.open();
    assert.deepStrictEqual((await secondPull).data.payload, []);
    await notWithin(sdk.socket, 'im_error', 300);
    assert.deepStrictEqual(sdk.errors, []);
  });

  for (const payload of [ { data: [] }, [] ]) {
    it(`an empty ack ${JSON.stringify(payload)} succeeds with code 0 and payload null`, async () => {
      const u = await signup();
      const socket = await connectOk({ version: 'v2', token: u.token });
      const reply = await emitAck(socket, 'c_message_ack', payload);
      assert.deepStrictEqual({ code: reply.code, payload: reply.data.payload }, { code: 0, payload: null });
    });
  }
});
