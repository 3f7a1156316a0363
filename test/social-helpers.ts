/** Helpers for the social-graph tests: records of socket events and friendships made through the API. */
import assert from 'node:assert';
import { api, type AnySocket, type TestUser } from './helpers';

/** Every `event` the socket receives, and a way to wait for one that matches. */
export function record(socket: AnySocket, event: string) {
  const seen: any[] = [];
  socket.on(event, (arg: any) => seen.push(arg));
  return {
    seen,
    /** the payloads received so far */
    payloads: () => seen.map(e => e.data.payload),
    /** resolves with the first envelope whose payload matches (already received or arriving within `ms`) */
    async next(match: (payload: any) => boolean, ms = 3000): Promise<any> {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = seen.find(e => match(e.data.payload));
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for a matching "${event}"; got ${JSON.stringify(seen.map(e => e.data.payload))}`);
        await new Promise(resolve => setTimeout(resolve, 10));
      }
    },
  };
}

/** Makes a and b friends through the request/accept API. */
export async function befriend(a: TestUser, b: TestUser) {
  const req = await api('POST', '/api/friends/requests', { token: a.token, body: { to: b.id } });
  assert.strictEqual(req.status, 201, JSON.stringify(req.body));
  const acc = await api('POST', `/api/friends/requests/${a.id}/accept`, { token: b.token });
  assert.strictEqual(acc.status, 200, JSON.stringify(acc.body));
}

export function expectError(res: { status: number; body: { code: number } }, status: number, code: number) {
  assert.strictEqual(res.status, status, JSON.stringify(res.body));
  assert.strictEqual(res.body.code, code, JSON.stringify(res.body));
}
