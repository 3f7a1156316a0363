/**
 * Inputs of the server API, webhooks and Web Push (PROTOCOL §9). The admin CLI validates with the
 * same schemas as the routes.
 */
import { z } from 'zod';
import { email, username } from './auth';
import { freeObject, objectId } from './common';
import { createRoomBody } from './social';
import { sendMessage, type MessageLimits } from './message';

export const API_SCOPES = [ 'users', 'messages', 'rooms', 'notices' ] as const;
export const WEBHOOK_EVENTS = [ 'message.created', 'message.updated', 'user.online', 'user.offline', 'room.changed', 'friend.changed', 'before.message' ] as const;

// Server API

/** the team's own id for a user: 1..128 characters, no control characters */
export const externalIdParam = z.object({
  externalId: z.string().min(1).max(128).regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters'),
});

export const upsertUserBody = z.strictObject({
  username: username.optional(),
  nickname: z.string().trim().min(1).max(32).optional(),
  avatar: z.string().max(1024).optional(),
  email: email.optional(),
  profile: freeObject(4096).optional(),
});
export type UpsertUserInput = z.infer<typeof upsertUserBody>;

export const serverSessionBody = z.strictObject({ deviceType: z.enum([ 'DESKTOP', 'MOBILE', 'WEB' ]).optional() });

/** `POST /api/server/messages`: whatever `to` accepts, sent as `from` */
export const serverMessage = (limits: MessageLimits) => sendMessage(limits).extend({ from: objectId });

export const serverRoomBody = createRoomBody.extend({ owner: objectId });

// Webhooks

const webhookUrl = z.string().max(2048).refine(s => {
  try {
    const u = new URL(s);
    return (u.protocol === 'https:' || u.protocol === 'http:') && !u.username && !u.password;
  } catch {
    return false;
  }
}, 'must be an http or https URL without credentials');

export const webhookBody = z.strictObject({
  url: webhookUrl,
  events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length).transform(e => [ ...new Set(e) ]),
  secret: z.string().min(16).max(256).optional(),
});
export type WebhookInput = z.infer<typeof webhookBody>;

/** a `before.message` webhook's answer (PROTOCOL §9); anything else counts as no answer */
export const beforeMessageReply = z.discriminatedUnion('action', [
  z.object({ action: z.literal('allow') }),
  z.object({ action: z.literal('reject'), reason: z.string().max(500).optional() }),
  z.object({ action: z.literal('replace'), content: z.string() }),
]);

// Web Push

const base64url = (bytes: number, what: string) => z.string().max(200).regex(/^[A-Za-z0-9_-]+={0,2}$/, 'must be base64url')
  .refine(s => Buffer.from(s, 'base64url').length === bytes, `must be ${what}`);

/** a browser's `PushSubscription.toJSON()` (other fields, like `expirationTime`, are ignored) */
export const pushSubscriptionBody = z.object({
  endpoint: z.string().max(2048).refine(s => {
    try {
      return new URL(s).protocol === 'https:';
    } catch {
      return false;
    }
  }, 'must be an https URL'),
  keys: z.object({
    p256dh: base64url(65, 'an uncompressed P-256 public key (65 bytes)').refine(s => Buffer.from(s, 'base64url')[0] === 4, 'must be an uncompressed P-256 public key'),
    auth: base64url(16, '16 bytes'),
  }),
});
export type PushSubscriptionInput = z.infer<typeof pushSubscriptionBody>;

export const pushUnsubscribeBody = z.object({ endpoint: z.string().min(1).max(2048) });
