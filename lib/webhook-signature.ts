/**
 * Webhook signatures (PROTOCOL §9): `IM-Webhook-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`
 * with the webhook's secret, the timestamp in Unix seconds (`IM-Webhook-Timestamp`). Signing the
 * timestamp lets a receiver refuse old deliveries replayed at it; each attempt is signed anew.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const signature = (secret: string, timestamp: number, body: string) =>
  `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;

/** The headers of one delivery. */
export function signedHeaders(secret: string, eventId: string, body: string, now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    'content-type': 'application/json',
    'user-agent': 'im-server-webhooks',
    'im-webhook-id': eventId,
    'im-webhook-timestamp': String(timestamp),
    'im-webhook-signature': signature(secret, timestamp, body),
  };
}

/** A receiver's check (the README's snippet does the same): right signature, timestamp within `toleranceS`. */
export function verifySignature(secret: string, headers: { timestamp: string; signature: string }, body: string, toleranceS = 300, now = Date.now()): boolean {
  const timestamp = Number(headers.timestamp);
  if (!Number.isInteger(timestamp) || Math.abs(now / 1000 - timestamp) > toleranceS) return false;
  const expected = Buffer.from(signature(secret, timestamp, body));
  const given = Buffer.from(headers.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
