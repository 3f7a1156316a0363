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
}

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
 * The payload of every server → client event (PROTOCOL §4, §5). Each goes out wrapped in a
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
