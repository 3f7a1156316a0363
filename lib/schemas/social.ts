import { z } from 'zod';
import { email } from './auth';
import { freeObject, objectId } from './common';

const shortText = (max: number) => z.string().trim().max(max);
const nonEmpty = (o: object) => Object.keys(o).length > 0;

/** `:id` route parameters */
export const idParam = z.object({ id: objectId });
export const userIdParam = z.object({ userId: objectId });

// Users and presence

/**
 * the only fields a user may change on their own account; anything else is 20002. E-mail and the
 * security question lead to a password reset, so changing them takes the current password: a stolen
 * access token alone must not become a takeover.
 */
export const updateMeBody = z.strictObject({
  nickname: shortText(32).min(1).optional(),
  avatar: z.string().max(1024).optional(),
  email: email.optional(),
  intro: shortText(500).optional(),
  question: shortText(200).min(1).optional(),
  answer: z.string().min(1).max(200).optional(),
  profile: freeObject(4096).optional(),
  currentPassword: z.string().min(1).max(128).optional(),
}).refine(b => Object.keys(b).some(k => k !== 'currentPassword'), 'nothing to change')
  .refine(b => !b.question === !b.answer, { message: 'question and answer go together', path: [ 'answer' ] })
  .refine(b => (b.email === undefined && b.question === undefined) || b.currentPassword !== undefined,
    { message: 'changing email, question or answer needs the current password', path: [ 'currentPassword' ] });

export const SEARCH_LIMIT_MAX = 30;
export const searchQuery = z.object({
  q: z.string().trim().min(1).max(32),
  limit: z.coerce.number().int().min(1).default(20).transform(n => Math.min(n, SEARCH_LIMIT_MAX)),
});

/** a known state or a custom status of at most 32 characters ("offline" is what others see, not a choice) */
export const presenceBody = z.strictObject({
  presence: z.string().trim().min(1).max(32).refine(p => p !== 'offline', 'use "invisible" to appear offline'),
});

// Friends and blocks

export const friendRequestBody = z.strictObject({ to: objectId, message: shortText(200).optional() });
export const answerRequestBody = z.strictObject({ message: shortText(200).optional() });
export const updateFriendBody = z.strictObject({ group: shortText(32).optional(), alias: shortText(32).optional() })
  .refine(nonEmpty, 'nothing to change');

// Rooms

const roomName = shortText(64).min(1);
const idList = z.array(objectId).max(500);

export const createRoomBody = z.strictObject({
  name: roomName,
  intro: shortText(500).optional(),
  avatar: z.string().max(1024).optional(),
  visibility: z.enum([ 'public', 'private' ]).optional(),
  members: idList.optional(),
});

export const listRoomsQuery = z.object({
  mine: z.enum([ '1', 'true', '0', 'false' ]).optional().transform(v => v === '1' || v === 'true'),
  page: z.coerce.number().int().min(1).default(1),
  limit: z.coerce.number().int().min(1).default(20),
});

export const updateRoomBody = z.strictObject({
  name: roomName.optional(),
  intro: shortText(500).optional(),
  notice: shortText(2000).optional(),
  avatar: z.string().max(1024).optional(),
  owner: objectId.optional(),
}).refine(nonEmpty, 'nothing to change');

export const roomMembersBody = z.strictObject({ add: idList.optional(), remove: idList.optional() })
  .refine(b => (b.add?.length ?? 0) + (b.remove?.length ?? 0) > 0, 'nothing to change');

export type UpdateMeInput = z.infer<typeof updateMeBody>;
export type CreateRoomInput = z.infer<typeof createRoomBody>;
export type UpdateRoomInput = z.infer<typeof updateRoomBody>;
