/**
 * Server API keys (PROTOCOL §9): `imk_<key id>_<secret>`, the id a 24-hex-digit ObjectId (the key is
 * found by `_id`), the secret 256 random bits. Only the SHA-256 of the secret is stored. A slow
 * password hash (argon2) buys nothing here: it exists to make guessing low-entropy passwords from a
 * stolen hash expensive, and 2^256 secrets cannot be guessed at any speed; SHA-256 keeps every API
 * call's check to microseconds, while a leaked database still holds no usable key.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Types } from 'mongoose';

export const API_KEY_PREFIX = 'imk_';
const FORMAT = /^imk_([0-9a-f]{24})_([A-Za-z0-9_-]{43})$/;

export const hashSecret = (secret: string) => createHash('sha256').update(secret).digest('hex');

/** Whether a bearer token is meant as an API key (then it is no user token, and vice versa). */
export const looksLikeApiKey = (token: string) => token.startsWith(API_KEY_PREFIX);

/** The parts of a well-formed key; null otherwise. */
export function parseApiKey(token: string): { id: string; secret: string } | null {
  const m = FORMAT.exec(token);
  return m ? { id: m[1], secret: m[2] } : null;
}

/** A new key: what to store (`_id`, `secretHash`) and what to show once (`key`). */
export function newApiKey() {
  const _id = new Types.ObjectId();
  const secret = randomBytes(32).toString('base64url');
  return { _id, secretHash: hashSecret(secret), key: `${API_KEY_PREFIX}${_id.toHexString()}_${secret}` };
}

/** Compares a presented secret with a stored hash in constant time. */
export function secretMatches(secret: string, storedHash: string) {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** A webhook signing secret, when the admin gives none. */
export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;
