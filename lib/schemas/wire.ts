/**
 * What the server sends (PROTOCOL §2, §4-§7), defined once for the server and its clients: the web
 * client (web/) types its replies with these, next to the input schemas it shares with the
 * server's validation; the server's outbox (app/io/outbox.ts) types every emit with
 * `ServerToClientEvents`. Plain types, no runtime.
 */
export interface WireMessage {
  _id: string;
  fp: string;
  from: string;
  to: string;
  type: number;
  typeu: number;
  content: string;
  extra?: Record<string, unknown>;
  conversationId: string;
  timelineId: string;
  seq: number;
  sendTime: number;
  time?: number;
  // §8: present when the message has them
  /** the message this one answers, as it was when quoted (`excerpt` '' once that message is recalled) */
  replyTo?: ReplyQuote;
  /** room mentions: user ids, or `['all']` */
  mentions?: string[];
  /** when the content was last edited, ms */
  editedAt?: number;
  reactions?: Reaction[];
  /** 0 as stored, +1 on every change (edit, reaction, recall, pin) */
  rev?: number;
  /** who pinned it, while pinned */
  pinnedBy?: string;
  /** c2c history only, on the reader's own messages: whether the peer acked it */
  delivered?: boolean;
}

export interface ReplyQuote { _id: string; from: string; type: number; excerpt: string }

/** `count` is exact; `users` names at most 20 of them, first come first */
export interface Reaction { emoji: string; count: number; users: string[] }

/** `to_delivered` item: recipients acked a message of the sender's (§8) */
export interface DeliveryTick { _id: string; fp: string; timelineId: string; typeu: number; seq: number; delivered: string[] }

/** `sync_changes` item: a changed message as stored now, or what became of it for this user */
export type MessageChange = WireMessage | { _id: string; hidden: true } | { _id: string; removed: true };

/** `sync_changes` reply: changes after the cursor, oldest first; `cursor` is opaque, `more` when another page waits */
export interface ChangesPage { changes: MessageChange[]; cursor: string; more: boolean }

/** `GET /api/messages/search`: each doc carries where the query matched (UTF-16 offsets in `content`) */
export interface SearchHit extends WireMessage { highlights: Array<[number, number]> }
export interface SearchResult { docs: SearchHit[]; next?: string }

export interface SystemNotice { _id: string; content: string; event?: string; from: 'system'; time: number }

/** `meta` of a socket envelope (§2): `sync` on copies to the sender's other devices, `more` on a partial pull. */
export interface SocketMeta {
  timestamp: number;
  msg?: string;
  sync?: true;
  more?: boolean;
  /** on 20009: when the client may try again */
  retryAfterMs?: number;
}

export interface SocketEnvelope<T = unknown> {
  meta: SocketMeta;
  code: number;
  data: { action: string; payload: T };
}

export interface HttpEnvelope<T = unknown> { code: number; msg: string; data: T }

export interface PublicUser { _id: string; username: string; nickname: string; avatar: string; intro: string; presence?: string }

export interface Me extends PublicUser { email?: string; question?: string; role?: string; presence?: string }

export interface AuthResult { user: Me; token: string; refreshToken: string; expiresIn?: number }

export interface Room {
  _id: string;
  name: string;
  intro: string;
  notice: string;
  avatar: string;
  visibility: 'public' | 'private';
  owner: string;
  memberCount: number;
  onlineUsers?: number;
}

export interface RoomDetails extends Room { members: { online: PublicUser[]; offline: PublicUser[] } }

export interface Page<T> { currentPage: number; lastPage: number; docs: T[] }

export interface Conversation {
  timelineId: string;
  conversationId: string;
  typeu: number;
  peer?: PublicUser;
  room?: Room;
  lastMessage: WireMessage | null;
  unread: number;
  updateTime: number;
  // §8: this user's settings, and unread messages that mention them (or `all`)
  pinned: boolean;
  muted: boolean;
  archived: boolean;
  mentions: number;
}

export interface Friend { user: PublicUser; group: string; alias: string; presence: string }

export interface FriendRequests {
  incoming: Array<{ _id: string; message: string; from: PublicUser }>;
  outgoing: Array<{ _id: string; message: string; to: PublicUser }>;
}

export interface ReadReceipt { _id: string; fp: string; timelineId: string; typeu: number; seq: number; readed: string[] }

export type RoomEvent = 'created' | 'join' | 'leave' | 'kick' | 'update' | 'owner' | 'dissolve';
export interface GroupNotice { room: string; event: RoomEvent; user?: string; newbie?: true; changes?: Record<string, unknown> }

export interface FriendNotice { type: 'request' | 'agree' | 'refuse' | 'removed'; from: PublicUser; message?: string }

export interface OnlineNotice { type: 'online' | 'offline' | 'snapshot'; current: string; clients: string[] }

export interface Upload { url: string; filename: string; size: number; mime: string }

export interface QrLogin { status: 'scanned' | 'confirmed'; user?: Pick<PublicUser, '_id' | 'nickname' | 'avatar'>; token?: string; refreshToken?: string }

export interface Typing { timelineId: string; from: string }

export interface PresenceChange { id: string; presence: string }

/**
 * The payload of every server → client event (PROTOCOL §4, §5, §8). Each goes out wrapped in a
 * `SocketEnvelope`; `im_error` carries null or the offending item's `fp`.
 */
export interface ServerEventPayloads {
  im_error: string | null;
  c_online: OnlineNotice;
  to_ack: WireMessage;
  c_message: WireMessage;
  c_message_ack: null;
  offline_message: Array<WireMessage | SystemNotice>;
  recent_conversation: Conversation[];
  history_message: WireMessage[] | Page<WireMessage>;
  to_reader: ReadReceipt[] | null;
  to_typing: Typing | null;
  to_delivered: DeliveryTick[];
  sync_changes: ChangesPage;
  c_message_update: WireMessage;
  conversation_update: Conversation;
  g_notice: GroupNotice;
  f_notice: FriendNotice;
  presence: PresenceChange;
  sys_notice: SystemNotice;
  upload: Upload;
  qrlogin: QrLogin | 'pong';
}

export type ServerEvent = keyof ServerEventPayloads;

/** Socket.IO's typed-events map of what the server emits. */
export type ServerToClientEvents = { [E in ServerEvent]: (envelope: SocketEnvelope<ServerEventPayloads[E]>) => void };
/** `GET /api/qrcode`: the id to show, and the secret only the asking PC keeps (it opens /sso with it) */
export interface QrCode { deviceId: string; expiresIn: number; secret: string }
/** `GET /api/qrcode/:deviceId`: which computer asks to be signed in, for the confirm page */
export interface QrAsk { deviceId: string; ip: string; userAgent: string; requestedAt: number; expiresIn: number }
