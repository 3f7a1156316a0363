/** Envelopes of the contract (PROTOCOL.md §2). */
import type { ErrorCodeValue } from './errors';

export interface SocketMeta {
  timestamp: number;
  msg?: string;
  sync?: true;
  more?: boolean;
  /** with 20009: when the client may try again (PROTOCOL §2) */
  retryAfterMs?: number;
}

export interface SocketEnvelope<T = unknown> {
  meta: SocketMeta;
  code: number;
  data: { action: string; payload: T };
}

export function socketEnvelope<T>(action: string, payload: T, meta?: Partial<SocketMeta>): SocketEnvelope<T> {
  return { meta: { timestamp: Date.now(), ...meta }, code: 0, data: { action, payload } };
}

export function socketError(action: string, code: ErrorCodeValue, msg: string, payload: unknown = null): SocketEnvelope {
  return { meta: { timestamp: Date.now(), msg }, code, data: { action, payload } };
}

export interface HttpEnvelope<T = unknown> {
  code: number;
  msg: string;
  data: T;
}

export const httpEnvelope = <T>(data: T, msg = 'ok'): HttpEnvelope<T> => ({ code: 0, msg, data });
