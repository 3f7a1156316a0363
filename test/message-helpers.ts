/** Helpers for the message feature tests (PROTOCOL §8): users online, messages, rooms, event records. */
import assert from 'node:assert';
import { app, connectOk, emitAck, type AnySocket, type ClientVersion, type TestUser } from './helpers';

let n = 0;
export const fp = () => `f8-${Date.now()}-${n++}`;
export const text = (to: string, content = 'hello', extra: Record<string, unknown> = {}) => ({ type: 1, to, content, fp: fp(), ...extra });
export const roomText = (roomId: string, content = 'hello', extra: Record<string, unknown> = {}) => text(roomId, content, { typeu: 2, ...extra });

export function online(u: TestUser, version: ClientVersion = 'v4', deviceType = 'WEB'): Promise<AnySocket> {
  return connectOk({ version, token: u.token, query: { deviceType } });
}

/** A room (owner first in `members`) with its conversation memberships, as the room service makes them. */
export async function makeRoom(owner: TestUser, members: TestUser[]): Promise<string> {
  const name = `room-${fp()}`;
  const room = await app.model.Room.create({ name, nameLower: name, owner: owner.id, members: [ owner.id, ...members.map(m => m.id) ] });
  const id = String(room._id);
  await app.messages.joinRoom(id, [ owner.id, ...members.map(m => m.id) ]);
  return id;
}

/** Sends and returns the stored message (asserting code 0). */
export async function send(socket: AnySocket, message: Record<string, unknown>): Promise<any> {
  const res = await emitAck(socket, 'to', message);
  assert.strictEqual(res.code, 0, JSON.stringify(res));
  return res.data.payload;
}

/** Emits with an ack and asserts code 0; the payload. */
export async function ok(socket: AnySocket, event: string, payload?: unknown): Promise<any> {
  const res = await emitAck(socket, event, payload);
  assert.strictEqual(res.code, 0, `${event}: ${JSON.stringify(res)}`);
  return res.data.payload;
}

/** Every `event` a socket receives, and a way to wait for one that matches. */
export function record(socket: AnySocket, event: string) {
  const seen: any[] = [];
  socket.on(event, (e: any) => seen.push(e));
  return {
    seen,
    payloads: () => seen.map(e => e.data.payload),
    async next(match: (payload: any) => boolean = () => true, ms = 3000): Promise<any> {
      const deadline = Date.now() + ms;
      for (;;) {
        const found = seen.find(e => match(e.data.payload));
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for a matching "${event}"; got ${JSON.stringify(seen.map(e => e.data.payload)).slice(0, 500)}`);
        await new Promise(resolve => setTimeout(resolve, 10));
      }
    },
  };
}
