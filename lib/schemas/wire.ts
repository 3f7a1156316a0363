/**
 * What the server sends (PROTOCOL §2, §4-§9), defined once as zod schemas for the server, its
 * clients and its API documents: the types (`z.infer`) type the web client's and the client
 * package's replies and every emit of the server's outbox (`ServerToClientEvents`); the schemas
 * themselves are what `GET /api/openapi.json` and `GET /api/asyncapi.json` describe replies with
 * (lib/api/). Each has a schema id (`meta({id})`), which names it in the documents. Replies are
 * not validated at run time (the server builds them), so these stay plain descriptions: no
 * transforms, no refinements.
 */
import { z } from 'zod';

const id = z.string().describe('an ObjectId, 24 hex digits');
const typeu = z.number().int().describe('1 c2c, 2 c2g (room), 3 system, 4 notice');
/** JSON renders dates as ISO 8601 strings */
const date = z.string().describe('an ISO 8601 date-time');

export const ReplyQuote = z.object({
  _id: id,
  from: id,
  type: z.number().int(),
  excerpt: z.string().describe('the first 100 characters of a text message, \'\' otherwise and once the quoted message is recalled'),
}).meta({ id: 'ReplyQuote', description: 'the message a reply answers, as it was when quoted (§8)' });
export type ReplyQuote = z.infer<typeof ReplyQuote>;

export const Reaction = z.object({
  emoji: z.string(),
  count: z.number().int().describe('exact'),
  users: z.array(id).describe('at most 20 of them, first come first'),
}).meta({ id: 'Reaction' });
export type Reaction = z.infer<typeof Reaction>;

export const WireMessage = z.object({
  _id: id,
  fp: z.string().describe('the sender\'s fingerprint, unique per sender'),
  from: id,
  to: id.describe('the peer (c2c) or the room (c2g)'),
  type: z.number().int().describe('1 text, 2 image, 3 voice, 4 file, 5 custom; 10 recalled text, 21 recalled other'),
  typeu,
  content: z.string(),
  extra: z.record(z.string(), z.unknown()).optional(),
  conversationId: z.string().describe('c2c "<smaller id>@<larger id>", c2g the room id'),
  timelineId: z.string().describe('c2c "<from>@<to>", c2g the room id'),
  seq: z.number().int().describe('per conversation, from 1, strictly increasing by 1: the order of record'),
  sendTime: z.number().describe('when stored, ms since the epoch'),
  time: z.number().optional().describe('the client\'s own time, as it sent it'),
  // §8: present when the message has them
  replyTo: ReplyQuote.optional(),
  mentions: z.array(z.string()).optional().describe('room mentions: user ids, or ["all"]'),
  editedAt: z.number().optional().describe('when the content was last edited, ms'),
  reactions: z.array(Reaction).optional(),
  rev: z.number().int().optional().describe('0 as stored, +1 on every change (edit, reaction, recall, pin)'),
  pinnedBy: id.optional().describe('who pinned it, while pinned'),
  delivered: z.boolean().optional().describe('c2c history only, on the reader\'s own messages: whether the peer acked it'),
}).meta({ id: 'Message', description: 'a stored message (PROTOCOL §6, §8)' });
export type WireMessage = z.infer<typeof WireMessage>;

export const DeliveryTick = z.object({
  _id: id, fp: z.string(), timelineId: z.string(), typeu, seq: z.number().int(),
  delivered: z.array(id).describe('recipients who acked it'),
}).meta({ id: 'DeliveryTick', description: '`to_delivered` item: recipients acked a message of the sender\'s (§8)' });
export type DeliveryTick = z.infer<typeof DeliveryTick>;

export const MessageChange = z.union([
  WireMessage,
  z.object({ _id: id, hidden: z.literal(true) }).describe('this user hid the message'),
  z.object({ _id: id, removed: z.literal(true) }).describe('retention removed the message'),
]).meta({ id: 'MessageChange', description: '`sync_changes` item: a changed message as stored now, or what became of it for this user' });
export type MessageChange = z.infer<typeof MessageChange>;

export const ChangesPage = z.object({
  changes: z.array(MessageChange).describe('oldest change first, at most 200'),
  cursor: z.string().describe('opaque; pass it to the next sync_changes'),
  more: z.boolean().describe('another page waits'),
}).meta({ id: 'ChangesPage', description: '`sync_changes` reply: the changes after the cursor' });
export type ChangesPage = z.infer<typeof ChangesPage>;

export const SearchHit = WireMessage.extend({
  highlights: z.array(z.tuple([ z.number().int(), z.number().int() ])).describe('[start, end) of each match, UTF-16 offsets in `content`'),
}).meta({ id: 'SearchHit' });
export type SearchHit = z.infer<typeof SearchHit>;

export const SearchResult = z.object({
  docs: z.array(SearchHit).describe('newest first'),
  next: z.string().optional().describe('present exactly when more results remain: the `before` of the next page'),
}).meta({ id: 'SearchResult' });
export type SearchResult = z.infer<typeof SearchResult>;

export const SystemNotice = z.object({
  _id: id,
  content: z.string(),
  event: z.string().optional(),
  from: z.literal('system'),
  time: z.number().describe('ms since the epoch'),
}).meta({ id: 'SystemNotice', description: 'a system notice (`sys_notice`), kept for offline users until acked' });
export type SystemNotice = z.infer<typeof SystemNotice>;

export const SocketMeta = z.object({
  timestamp: z.number().describe('server time, ms'),
  msg: z.string().optional().describe('on errors: a human message'),
  sync: z.literal(true).optional().describe('a copy to the sender\'s other devices'),
  more: z.boolean().optional().describe('on a partial `offline_message` pull: more remain'),
  retryAfterMs: z.number().int().optional().describe('on 20009: when the client may try again'),
}).meta({ id: 'SocketMeta' });
export type SocketMeta = z.infer<typeof SocketMeta>;

/** the socket envelope (§2) around a payload; `action` is the event's action key when given */
export const socketEnvelopeOf = <T extends z.ZodType>(payload: T, action?: string) => z.object({
  meta: SocketMeta,
  code: z.number().int().describe('0, or an error code (§3)'),
  data: z.object({ action: action ? z.literal(action) : z.string(), payload }),
});

export interface SocketEnvelope<T = unknown> {
  meta: SocketMeta;
  code: number;
  data: { action: string; payload: T };
}

/** the HTTP envelope (§2) around a reply's data */
export const httpEnvelopeOf = <T extends z.ZodType>(data: T) => z.object({
  code: z.number().int().describe('0, or an error code (§3)'),
  msg: z.string(),
  data,
});

export interface HttpEnvelope<T = unknown> { code: number; msg: string; data: T }

export const PublicUser = z.object({
  _id: id,
  username: z.string(),
  nickname: z.string(),
  avatar: z.string(),
  intro: z.string(),
  presence: z.string().optional().describe('where shown: online, away, busy, offline or a custom status'),
}).meta({ id: 'PublicUser', description: 'what anyone signed in may see of a user' });
export type PublicUser = z.infer<typeof PublicUser>;

export const Me = PublicUser.extend({
  email: z.string().optional(),
  question: z.string().optional().describe('the security question (its answer is never returned)'),
  role: z.enum([ 'user', 'admin' ]).optional(),
  profile: z.record(z.string(), z.unknown()).optional(),
  externalId: z.string().optional().describe('the team\'s own id, for users made by the server API'),
  createdAt: date.optional(),
  updatedAt: date.optional(),
}).meta({ id: 'Me', description: 'one\'s own account' });
export type Me = z.infer<typeof Me>;

export const Session = z.object({
  token: z.string().describe('the access token (JWT)'),
  refreshToken: z.string(),
  expiresIn: z.number().int().describe('seconds the access token lives'),
}).meta({ id: 'Session', description: 'tokens of a login session' });
export type Session = z.infer<typeof Session>;

export const AuthResult = z.object({
  user: Me,
  token: z.string(),
  refreshToken: z.string(),
  expiresIn: z.number().int().optional(),
}).meta({ id: 'AuthResult' });
export type AuthResult = z.infer<typeof AuthResult>;

export const Room = z.object({
  _id: id,
  name: z.string(),
  intro: z.string(),
  notice: z.string(),
  avatar: z.string(),
  visibility: z.enum([ 'public', 'private' ]),
  owner: id,
  memberCount: z.number().int(),
  onlineUsers: z.number().int().optional().describe('in room lists'),
  createdAt: date.optional(),
  updatedAt: date.optional(),
}).meta({ id: 'Room' });
export type Room = z.infer<typeof Room>;

export const RoomDetails = Room.extend({
  members: z.object({ online: z.array(PublicUser), offline: z.array(PublicUser) }),
}).meta({ id: 'RoomDetails' });
export type RoomDetails = z.infer<typeof RoomDetails>;

export const RoomMembersResult = Room.extend({
  added: z.array(id),
  removed: z.array(id),
}).meta({ id: 'RoomMembersResult' });

/** a page of `item`s: page 1 first */
export const pageOf = <T extends z.ZodType>(item: T) => z.object({
  currentPage: z.number().int(),
  lastPage: z.number().int(),
  docs: z.array(item),
});
export interface Page<T> { currentPage: number; lastPage: number; docs: T[] }

export const MessagePage = pageOf(WireMessage).meta({ id: 'MessagePage', description: 'a history page (20 a page, page 1 newest, docs newest first)' });
export const RoomPage = pageOf(Room).meta({ id: 'RoomPage' });

/** `history_message` / `GET /api/messages`: a list in cursor mode, a page in page mode */
export const HistoryReply = z.union([ z.array(WireMessage).describe('cursor mode (before, limit): newest first'), MessagePage ])
  .meta({ id: 'HistoryReply' });

export const Conversation = z.object({
  timelineId: z.string(),
  conversationId: z.string(),
  typeu,
  peer: PublicUser.optional().describe('c2c: the other user'),
  room: Room.pick({ _id: true, name: true, avatar: true, visibility: true }).optional().describe('c2g: the room'),
  lastMessage: WireMessage.nullable(),
  unread: z.number().int(),
  updateTime: z.number().describe('ms'),
  // §8: this user's settings, and unread messages that mention them (or `all`)
  pinned: z.boolean(),
  muted: z.boolean(),
  archived: z.boolean(),
  mentions: z.number().int().describe('unread messages that mention this user or all'),
}).meta({ id: 'Conversation', description: 'an entry of the conversation list' });
/**
 * The room of an entry carries only `_id`, `name`, `avatar` and `visibility` (the schema says so);
 * the type still says `Room` because the web client files it among its rooms (web/src/chat.ts).
 * Narrow it when the web client moves to client/.
 */
export type Conversation = Omit<z.infer<typeof Conversation>, 'room'> & { room?: Room };

export const Friend = z.object({ user: PublicUser, group: z.string(), alias: z.string(), presence: z.string() }).meta({ id: 'Friend' });
export type Friend = z.infer<typeof Friend>;

export const FriendRequest = z.object({
  _id: id, from: id, to: id, message: z.string(), createdAt: date,
}).meta({ id: 'FriendRequest' });

export const FriendRequests = z.object({
  incoming: z.array(z.object({ _id: id, message: z.string(), createdAt: date, from: PublicUser })),
  outgoing: z.array(z.object({ _id: id, message: z.string(), createdAt: date, to: PublicUser })),
}).meta({ id: 'FriendRequests', description: 'pending requests to me and from me, newest first' });
export type FriendRequests = z.infer<typeof FriendRequests>;

export const Blocked = z.object({ user: PublicUser, createdAt: date }).meta({ id: 'Blocked' });

export const ReadReceipt = z.object({
  _id: id, fp: z.string(), timelineId: z.string(), typeu, seq: z.number().int(),
  readed: z.array(id).describe('who read it'),
}).meta({ id: 'ReadReceipt' });
export type ReadReceipt = z.infer<typeof ReadReceipt>;

export const RoomEvent = z.enum([ 'created', 'join', 'leave', 'kick', 'update', 'owner', 'dissolve' ]);
export type RoomEvent = z.infer<typeof RoomEvent>;

export const GroupNotice = z.object({
  room: id,
  event: RoomEvent,
  user: id.optional(),
  newbie: z.literal(true).optional().describe('added by someone else'),
  changes: z.record(z.string(), z.unknown()).optional(),
}).meta({ id: 'GroupNotice' });
export type GroupNotice = z.infer<typeof GroupNotice>;

export const FriendNotice = z.object({
  type: z.enum([ 'request', 'agree', 'refuse', 'removed' ]),
  from: PublicUser,
  message: z.string().optional(),
}).meta({ id: 'FriendNotice' });
export type FriendNotice = z.infer<typeof FriendNotice>;

export const OnlineNotice = z.object({
  type: z.enum([ 'online', 'offline', 'snapshot' ]),
  current: id.describe('the contact who came or went (the caller, in a snapshot)'),
  clients: z.array(id).describe('the recipient\'s online contacts'),
}).meta({ id: 'OnlineNotice' });
export type OnlineNotice = z.infer<typeof OnlineNotice>;

export const Upload = z.object({ url: z.string(), filename: z.string(), size: z.number().int(), mime: z.string() }).meta({ id: 'Upload' });
export type Upload = z.infer<typeof Upload>;

export const QrLogin = z.object({
  status: z.enum([ 'scanned', 'confirmed' ]),
  user: PublicUser.pick({ _id: true, nickname: true, avatar: true }).optional(),
  token: z.string().optional().describe('confirmed: an access token for device class DESKTOP'),
  refreshToken: z.string().optional(),
}).meta({ id: 'QrLogin' });
export type QrLogin = z.infer<typeof QrLogin>;

export const Typing = z.object({
  timelineId: z.string().describe('c2c "<typer>@<peer>", rooms the room id'),
  from: id,
}).meta({ id: 'Typing' });
export type Typing = z.infer<typeof Typing>;

export const PresenceChange = z.object({ id, presence: z.string() }).meta({ id: 'PresenceChange' });
export type PresenceChange = z.infer<typeof PresenceChange>;

/** `GET /api/qrcode`: the id to show, and the secret only the asking PC keeps (it opens /sso with it) */
export const QrCode = z.object({ deviceId: z.string(), expiresIn: z.number().int(), secret: z.string() }).meta({ id: 'QrCode' });
export type QrCode = z.infer<typeof QrCode>;

/** `GET /api/qrcode/:deviceId`: which computer asks to be signed in, for the confirm page */
export const QrAsk = z.object({
  deviceId: z.string(), ip: z.string(), userAgent: z.string(), requestedAt: z.number(), expiresIn: z.number().int(),
}).meta({ id: 'QrAsk' });
export type QrAsk = z.infer<typeof QrAsk>;

/**
 * The payload of every server → client event (PROTOCOL §4, §5, §8). Each goes out wrapped in a
 * socket envelope; `im_error` carries null or the offending item's `fp`.
 */
export const ServerEventPayloads = {
  im_error: z.string().nullable().describe('null, or the offending item\'s fp'),
  c_online: OnlineNotice,
  to_ack: WireMessage,
  c_message: WireMessage,
  c_message_ack: z.null(),
  offline_message: z.array(z.union([ WireMessage, SystemNotice ])).describe('oldest first, at most 200 (meta.more when more remain)'),
  recent_conversation: z.array(Conversation).describe('pinned first, then newest first'),
  history_message: HistoryReply,
  to_reader: z.array(ReadReceipt).nullable(),
  to_typing: Typing.nullable(),
  to_delivered: z.array(DeliveryTick),
  sync_changes: ChangesPage,
  c_message_update: WireMessage,
  conversation_update: Conversation,
  g_notice: GroupNotice,
  f_notice: FriendNotice,
  presence: PresenceChange,
  sys_notice: SystemNotice,
  upload: Upload,
  qrlogin: z.union([ QrLogin, z.literal('pong') ]),
} as const;
export type ServerEventPayloads = { [E in keyof typeof ServerEventPayloads]: z.infer<typeof ServerEventPayloads[E]> };

export type ServerEvent = keyof ServerEventPayloads;

/** Socket.IO's typed-events map of what the server emits. */
export type ServerToClientEvents = { [E in ServerEvent]: (envelope: SocketEnvelope<ServerEventPayloads[E]>) => void };
