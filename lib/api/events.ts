/**
 * Every socket event of /chat and /sso (PROTOCOL §4, §5, §8) in one table: what a client emits (its
 * payload schema, the one the server validates with, and what answers it) and what the server pushes
 * (payload schemas from lib/schemas/wire.ts). The AsyncAPI document (lib/api/asyncapi.ts) is generated
 * from it; a test checks it against the events app/router.ts routes and the events the outbox can
 * send, both ways.
 */
import type { z } from 'zod';
import { ErrorCode, type ErrorCodeValue } from '../errors';
import * as message from '../schemas/message';
import * as features from '../schemas/features';
import type { ServerEvent } from '../schemas/wire';
import type { MessageLimits } from '../schemas/message';

export type Namespace = '/chat' | '/sso';

/** An event a client emits. */
export interface ClientEvent {
  namespace: Namespace;
  event: string;
  summary: string;
  /** what the first argument must be; none = sent without a payload (anything is ignored) */
  payload?: z.ZodType;
  /** the event the reply is emitted as without an ack callback; none = acks `{code:0, payload:null}` only */
  reply?: ServerEvent;
  /** refusals beyond 20009 (the event rate) and 50000 (added by `eventErrorsOf`) */
  errors?: ErrorCodeValue[];
}

/** An event the server emits unasked (replies are described with the event they answer). */
export interface ServerPush {
  namespace: Namespace;
  event: ServerEvent;
  summary: string;
}

/** Every refusal of a client event: its own, 20002 when it takes a payload, 20001 (token expired), 20009 (event rate), 50000 (not done in time). */
export function eventErrorsOf(e: ClientEvent): ErrorCodeValue[] {
  const codes: ErrorCodeValue[] = [];
  if (e.payload) codes.push(ErrorCode.MISS_PARAMS);
  codes.push(...e.errors ?? []);
  if (e.namespace === '/chat') codes.push(ErrorCode.AUTH_FAILED);
  codes.push(ErrorCode.RATE_LIMITED, ErrorCode.SERVER_ERROR);
  return [ ...new Set(codes) ];
}

export function clientEvents(limits: MessageLimits): ClientEvent[] {
  return [
    { namespace: '/chat', event: 'to', summary: 'Send a message (§6); answered once it is stored. A retry with the same fp gets the same message', payload: message.sendMessage(limits), reply: 'to_ack',
      errors: [ ErrorCode.CHAT_FAILED, ErrorCode.USER_NOT_EXIST ] },
    { namespace: '/chat', event: 'c_message_ack', summary: 'Mark messages delivered to me: a message, a list, or {data:[...]}, each by _id or fp', payload: message.messageAck },
    { namespace: '/chat', event: 'offline_message', summary: 'Pull what I have not acked, oldest first, 200 at a time (meta.more when more remain)', reply: 'offline_message' },
    { namespace: '/chat', event: 'recent_conversation', summary: 'My conversation list', reply: 'recent_conversation' },
    { namespace: '/chat', event: 'history_message', summary: 'History of a conversation: before/limit (newest first) or page', payload: message.history, reply: 'history_message', errors: [ ErrorCode.FORBIDDEN ] },
    { namespace: '/chat', event: 'to_reader', summary: 'I read up to this message; the sender\'s devices get to_reader', payload: message.readReceipt, errors: [ ErrorCode.FORBIDDEN, ErrorCode.NOT_FOUND ] },
    { namespace: '/chat', event: 'readed_message', summary: 'The read receipts queued while I was offline (then the queue is emptied)', reply: 'to_reader' },
    { namespace: '/chat', event: 'to_typing', summary: 'I am typing to a peer (typeu 1) or in a small room (typeu 2)', payload: message.typing, errors: [ ErrorCode.CHAT_FAILED ] },
    { namespace: '/chat', event: 'to_undo', summary: 'Recall my message (within the recall window; a room owner any time)', payload: message.recall, reply: 'to_ack', errors: [ ErrorCode.CHAT_FAILED, ErrorCode.NOT_FOUND ] },
    { namespace: '/chat', event: 'to_edit', summary: 'Edit my text message (§8); others get c_message_update', payload: features.edit(limits.maxContentBytes), reply: 'to_ack', errors: [ ErrorCode.CHAT_FAILED, ErrorCode.NOT_FOUND ] },
    { namespace: '/chat', event: 'to_react', summary: 'Add or take back a reaction (§8)', payload: features.react, reply: 'to_ack', errors: [ ErrorCode.CHAT_FAILED, ErrorCode.NOT_FOUND ] },
    { namespace: '/chat', event: 'to_pin', summary: 'Pin or unpin a message (§8)', payload: features.pin, reply: 'to_ack', errors: [ ErrorCode.CHAT_FAILED, ErrorCode.NOT_FOUND ] },
    { namespace: '/chat', event: 'sync_changes', summary: 'Messages changed after my cursor (§8); no cursor: an empty page and the current cursor. An unknown or too old cursor is 20002: reload history',
      payload: features.syncChanges, reply: 'sync_changes' },
    { namespace: '/chat', event: 'c_online', summary: 'My online contacts now', reply: 'c_online' },
    { namespace: '/sso', event: 'qrlogin', summary: 'Keep-alive of the waiting PC', reply: 'qrlogin' },
  ];
}

export const serverPushes: ServerPush[] = [
  { namespace: '/chat', event: 'im_error', summary: 'A refusal of an event sent without an ack callback, or why the socket is being dropped (20001, 20002, 20004)' },
  { namespace: '/chat', event: 'c_message', summary: 'A new message for me (meta.sync: a copy of one I sent from another device); a recall sends it again as the marker' },
  { namespace: '/chat', event: 'c_message_update', summary: 'A stored message changed (edit, reaction, recall, pin): the whole message as it is now (§8)' },
  { namespace: '/chat', event: 'to_reader', summary: 'Receipts: someone read my messages' },
  { namespace: '/chat', event: 'to_delivered', summary: 'Recipients acked my messages (§8), gathered' },
  { namespace: '/chat', event: 'to_typing', summary: 'A peer, or a member of a small room, is typing' },
  { namespace: '/chat', event: 'c_online', summary: 'A contact came online or went offline' },
  { namespace: '/chat', event: 'presence', summary: 'A friend changed presence' },
  { namespace: '/chat', event: 'conversation_update', summary: 'My settings of a conversation changed on another device (§8)' },
  { namespace: '/chat', event: 'g_notice', summary: 'A room I am in changed' },
  { namespace: '/chat', event: 'f_notice', summary: 'A friend request, its answer, or a friendship ended' },
  { namespace: '/chat', event: 'sys_notice', summary: 'A system notice (also in offline_message until acked)' },
  { namespace: '/chat', event: 'upload', summary: 'I uploaded a file' },
  { namespace: '/sso', event: 'qrlogin', summary: 'The phone scanned the code, then confirmed: the PC\'s tokens' },
  { namespace: '/sso', event: 'im_error', summary: 'The QR id is unknown or expired (20006): the socket is dropped' },
];
