/** Envelopes of the contract (PROTOCOL.md §2); their types are in lib/schemas/wire.ts. */
import type { ErrorCodeValue } from './errors';
import type { HttpEnvelope, SocketEnvelope, SocketMeta } from './schemas/wire';

export type { HttpEnvelope, SocketEnvelope, SocketMeta };

export function socketEnvelope<T>(action: string, payload: T, meta?: Partial<SocketMeta>): SocketEnvelope<T> {
  return { meta: { timestamp: Date.now(), ...meta }, code: 0, data: { action, payload } };
}

export function socketError(action: string, code: ErrorCodeValue, msg: string, payload: string | null = null, meta?: Partial<SocketMeta>): SocketEnvelope<string | null> {
  return { meta: { timestamp: Date.now(), msg, ...meta }, code, data: { action, payload } };
}

export const httpEnvelope = <T>(data: T, msg = 'ok'): HttpEnvelope<T> => ({ code: 0, msg, data });
