/**
 * Inputs of the message features (PROTOCOL §8): edits, reactions, pins, the change feed, search and
 * per-user conversation settings. Like every socket payload, unknown fields are dropped; REST
 * queries and bodies are strict.
 */
import { z } from 'zod';
import { objectId } from './common';
import { content } from './message';

/** a conversation as the caller names it (c2c `"<a>@<b>"` either way round, or a room id) */
export const timelineId = z.string().min(1).max(64);
const typeuQuery = z.enum([ '1', '2' ]).transform(Number).pipe(z.union([ z.literal(1), z.literal(2) ]));
const queryInt = z.string().regex(/^\d{1,9}$/, 'must be a whole number').transform(Number);

/** `to_edit`: the new content of one's own text message */
export const edit = (maxContentBytes: number) => z.object({ _id: objectId, content: content(maxContentBytes) });
export type EditInput = z.infer<ReturnType<typeof edit>>;

/** an emoji: 1..16 bytes of UTF-8, no whitespace or control characters (ZWJ sequences are fine) */
export const emoji = z.string().min(1)
  .refine(s => Buffer.byteLength(s) <= 16, 'must be 1..16 bytes')
  .refine(s => !/[\s\p{Cc}]/u.test(s), 'must not contain whitespace');

/** `to_react`: `on:false` takes one's reaction back */
export const react = z.object({ _id: objectId, emoji, on: z.boolean() });
export type ReactInput = z.infer<typeof react>;

/** `to_pin` */
export const pin = z.object({ _id: objectId, on: z.boolean() });
export type PinInput = z.infer<typeof pin>;

/** a change-feed cursor as the server hands it out: digits, opaque to clients */
export const cursor = z.string().regex(/^\d{1,20}$/, 'must be a cursor this server gave');

/** `sync_changes`: no payload, `{}` or `{cursor}` */
export const syncChanges = z.union([ z.undefined(), z.null(), z.object({ cursor: cursor.optional() }) ])
  .transform(v => ({ cursor: v?.cursor }));
export type SyncChangesInput = z.infer<typeof syncChanges>;

/** `GET /api/messages/pinned` */
export const pinnedQuery = z.strictObject({ timelineId, typeu: typeuQuery });

/** `GET /api/messages/search`: `q` 1..100 characters; `timelineId` (with `typeu`) narrows it to one conversation */
export const searchQuery = z.strictObject({
  q: z.string().refine(s => { const n = [ ...s ].length; return n >= 1 && n <= 100; }, 'must be 1..100 characters'),
  timelineId: timelineId.optional(),
  typeu: typeuQuery.optional(),
  before: objectId.optional(),
  limit: queryInt.pipe(z.number().int().min(1).max(50)).optional(),
}).refine(v => (v.timelineId === undefined) === (v.typeu === undefined), 'timelineId and typeu go together');
export type SearchInput = z.infer<typeof searchQuery>;

/** `PATCH /api/conversations/:timelineId?typeu=` */
export const settingsQuery = z.strictObject({ typeu: typeuQuery });
export const settings = z.strictObject({ pinned: z.boolean().optional(), muted: z.boolean().optional(), archived: z.boolean().optional() });
export type SettingsInput = z.infer<typeof settings>;
