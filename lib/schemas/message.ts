/**
 * Socket and REST inputs of the messaging engine (PROTOCOL §4, §6). Socket payloads are plain
 * objects whose unknown fields are dropped (SDKs echo whole messages back); nothing unknown is
 * stored or used in a query.
 */
import { z } from 'zod';
import { freeObject, objectId } from './common';

export const fp = z.string().min(1).max(64);
const typeu = z.union([ z.literal(1), z.literal(2) ]);
const timelineId = z.string().min(1).max(64);
const seq = z.number().int().positive();

export interface MessageLimits {
  maxContentBytes: number;
  maxExtraBytes: number;
}

/** a message's `content` under the configured cap (UTF-8 bytes) */
export const content = (maxContentBytes: number) => z.string().refine(s => s.length <= maxContentBytes && Buffer.byteLength(s) <= maxContentBytes,
  `must be at most ${maxContentBytes} bytes`);

/** most users one message may mention (§8) */
export const MENTIONS_MAX = 50;

/** `to` (§6); built per limits since the content cap is configurable. */
export const sendMessage = (limits: MessageLimits) => z.object({
  type: z.number().int().min(1).max(5),
  to: objectId,
  content: content(limits.maxContentBytes),
  fp,
  // clients cannot send system (3) or notice (4) messages
  typeu: typeu.default(1),
  from: objectId.optional(),
  time: z.number().finite().optional(),
  extra: freeObject(limits.maxExtraBytes).optional(),
  // §8: the message this one answers (same conversation), and in rooms who it mentions
  replyTo: objectId.optional(),
  mentions: z.array(z.union([ objectId, z.literal('all') ])).max(MENTIONS_MAX).optional(),
});
export type SendMessageInput = z.infer<ReturnType<typeof sendMessage>>;

/** One message named by `_id` or `fp` (acks, recalls). */
const messageRef = z.union([
  objectId.transform(_id => ({ _id, fp: undefined })),
  z.object({ _id: objectId.optional(), fp: fp.optional() })
    .refine(m => m._id !== undefined || m.fp !== undefined, 'needs _id or fp'),
]);
export type MessageRef = z.infer<typeof messageRef>;

/**
 * `c_message_ack`: a message, an array of messages, or `{data:[...]}`. An empty list acks nothing
 * and succeeds: the im-client-sdk acks every `offline_message` reply as `{data: <payload>}`, which is
 * `{data: []}` when nothing was pending.
 */
export const messageAck = z.union([
  z.array(messageRef).max(500),
  z.object({ data: z.array(messageRef).max(500) }).transform(d => d.data),
  messageRef.transform(m => [ m ]),
]);

export const recall = messageRef;

/** `history_message` / `GET /api/messages`: cursor mode (`before`, `limit`) or page mode (`page`). */
export const history = z.object({
  timelineId,
  typeu,
  before: seq.optional(),
  limit: z.number().int().min(1).max(100).optional(),
  page: z.number().int().min(1).max(100000).optional(),
});
export type HistoryInput = z.infer<typeof history>;

const queryInt = z.string().regex(/^\d{1,9}$/, 'must be a whole number').transform(Number);
export const historyQuery = z.strictObject({
  timelineId,
  typeu: z.enum([ '1', '2' ]).transform(Number).pipe(typeu),
  before: queryInt.pipe(seq).optional(),
  limit: queryInt.pipe(z.number().int().min(1).max(100)).optional(),
  page: queryInt.pipe(z.number().int().min(1).max(100000)).optional(),
});

/** `to_reader`: the message read, by `_id` or by `{timelineId, typeu, seq}`. */
export const readReceipt = z.union([
  objectId.transform(_id => ({ _id })),
  z.object({ _id: objectId }),
  z.object({ timelineId, typeu, seq }),
]);
export type ReadReceiptInput = z.infer<typeof readReceipt>;

/** `to_typing`: a peer (typeu 1) or, §8, a room (typeu 2) */
export const typing = z.object({ to: objectId, typeu: typeu.default(1) });
