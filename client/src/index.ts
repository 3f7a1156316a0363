/**
 * @im-server/client: the protocol layer of im-server (PROTOCOL.md) for an app to import instead of
 * writing it. `rest` is the REST API with the envelope and token refresh; `chat` is the /chat socket
 * with reconnect, offline pulls, coalesced acks, idempotent resends and the change feed. Types come
 * from the server's own schemas (lib/schemas/wire.ts).
 */
import { ChatClient, type ChatOptions } from './chat';
import { RestClient, type RestOptions } from './rest';

export { ApiError } from './errors';
export { MemoryStore, type KeyValueStore } from './storage';
export { RestClient, type RestOptions, type Session } from './rest';
export { ChatClient, type ChatEvents, type ChatOptions, type ConnectionState, type OutgoingMessage } from './chat';
export type {
  AuthResult, ChangesPage, Conversation, DeliveryTick, Friend, FriendNotice, FriendRequests, GroupNotice, HttpEnvelope, Me, MessageChange,
  OnlineNotice, Page, PresenceChange, PublicUser, Reaction, ReadReceipt, ReplyQuote, Room, RoomDetails, SearchResult, ServerEvent,
  ServerEventPayloads, SocketEnvelope, SocketMeta, SystemNotice, Typing, Upload, WireMessage,
} from '../../lib/schemas/wire';

/** Both halves over one store: `client.rest.login(...)`, then `client.chat.connect()`. */
export class ImClient {
  readonly rest: RestClient;
  readonly chat: ChatClient;

  constructor(opts: RestOptions & ChatOptions) {
    this.rest = new RestClient(opts);
    this.chat = new ChatClient(this.rest, opts);
  }
}
