/** Envelopes of the contract (PROTOCOL.md §2). */
import type { ErrorCodeValue } from './errors';

export interface SocketEnvelope<T = unknown> {
  meta: { timestamp: number; msg?: string; sync?: true; more?: boolean };
  code: number;
  data: { action: string; payload: T };
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
