import assert from 'node:assert';
import ioV2 from 'socket.io-client-v2';
import { app, baseUrl, connectChat, connectOk, emitAck, notWithin, signup, sleep, waitFor, type AnySocket, type TestUser } from '../../../helpers';

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

/** Reconnects the SDK client and resolves with its first pull after the reconnect. */
async function reconnect(sdk: SdkClient) {
  sdk.socket.close();
  const pull = nextPull(sdk);
  sdk.socket.open();
  return pull;
}

/** a sends `contents` to b; returns the stored messages' ids. */
async function sendAll(a: TestUser, b: TestUser, contents: string[]) {
  const sender = await connectChat({ version: 'v4', token: a.token });
  const ids: string[] = [];
  for (const content of contents) {
    const sent = await emitAck(sender, 'to', { type: 1, to: b.id, content, fp: `sdk-${content}-${Date.now()}` });
    assert.strictEqual(sent.code, 0, JSON.stringify(sent));
    ids.push(sent.data.payload._id);
  }
  return ids;
}

describe('/chat with the im-client-sdk (socket.io-client 2, unmodified)', () => {
  it('the pulls it sends on connect are answered: offline_message with [], readed_message as to_reader', async () => {
    const b = await signup();
    const sdk = await sdkClient(b);
    const firstPull = nextPull(sdk);
    const firstReceipts = waitFor(sdk.socket, 'to_reader', 5000);
    const pulled = await firstPull;
    assert.strictEqual(pulled.code, 0, JSON.stringify(pulled));
    assert.deepStrictEqual(pulled.data.payload, []);
    assert.strictEqual((await firstReceipts).code, 0);
  });

  it('a message reaches it as c_message, and its whole-object ack marks the message delivered', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sdk = await sdkClient(b);
    await nextPull(sdk); // connected, and it has acked {data: []}
    const incoming = waitFor(sdk.socket, 'c_message', 5000);
    const [ id ] = await sendAll(a, b, [ 'hello sdk' ]);
    assert.strictEqual((await incoming).data.payload._id, id);
    const observer = await connectChat({ version: 'v4', token: b.token, query: { deviceType: 'MOBILE' } });
    await untilNotPending(observer, id);
  });

  it('after a reconnect it pulls nothing it acked, and it never got an im_error or error', async () => {
    const [ a, b ] = await Promise.all([ signup(), signup() ]);
    const sdk = await sdkClient(b);
    await nextPull(sdk);
    const [ id ] = await sendAll(a, b, [ 'hello sdk' ]);
    await untilNotPending(await connectChat({ version: 'v4', token: b.token, query: { deviceType: 'MOBILE' } }), id);
    const again = await reconnect(sdk);
    assert.strictEqual(again.code, 0, JSON.stringify(again));
    assert.deepStrictEqual(again.data.payload, []);
    await notWithin(sdk.socket, 'im_error', 500); // anything arriving meanwhile lands in sdk.errors
    assert.deepStrictEqual(sdk.errors, []);
    assert.strictEqual(sdk.socket.connected, true);
  });

  describe('messages and a system notice sent while it was offline', () => {
    async function offlineMix() {
      const [ a, b ] = await Promise.all([ signup(), signup() ]);
      const ids = await sendAll(a, b, [ 'one', 'two' ]);
      const notice = await app.messages.notify({ to: b.id, content: 'maintenance tonight' });
      return { b, ids: [ ...ids, notice._id ] };
    }

    it('come in its first pull', async () => {
      const { b, ids } = await offlineMix();
      const pulled = await nextPull(await sdkClient(b));
      assert.strictEqual(pulled.code, 0, JSON.stringify(pulled));
      assert.deepStrictEqual(pulled.data.payload.map((m: any) => m._id).sort(), [ ...ids ].sort());
    });

    it('are acked whole by its {data} ack: none comes back after a reconnect, and no im_error', async () => {
      const { b, ids } = await offlineMix();
      const sdk = await sdkClient(b);
      await nextPull(sdk);
      const observer = await connectChat({ version: 'v4', token: b.token, query: { deviceType: 'MOBILE' } });
      for (const id of ids) await untilNotPending(observer, id);
      assert.deepStrictEqual((await reconnect(sdk)).data.payload, []);
      await notWithin(sdk.socket, 'im_error', 300);
      assert.deepStrictEqual(sdk.errors, []);
    });
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
