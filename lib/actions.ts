/** Wire events of PROTOCOL.md §4 (and §8) and their action keys (the envelope's `data.action`). */
export const Actions = {
  im_error: 'IMERROR',
  c_online: 'CHAT_ONLINE',
  to: 'CHAT_TO',
  to_ack: 'CHAT_TO_ACK',
  c_message: 'CHAT_MESSAGE',
  c_message_ack: 'CHAT_MESSAGE_ACK',
  offline_message: 'CHAT_PULL_OFFLINE_MESSAGE',
  recent_conversation: 'CHAT_PULL_RECENT_CONVERSATION',
  history_message: 'CHAT_PULL_HISTORY_MESSAGE',
  to_reader: 'CHAT_TO_READED',
  readed_message: 'CHAT_PULL_READED_MESSAGE',
  to_typing: 'CHAT_TO_TYPING',
  to_undo: 'CHAT_TO_UNDO',
  // §8 message features
  to_edit: 'CHAT_TO_EDIT',
  to_react: 'CHAT_TO_REACT',
  to_pin: 'CHAT_TO_PIN',
  to_delivered: 'CHAT_MESSAGE_DELIVERED',
  sync_changes: 'CHAT_SYNC_CHANGES',
  c_message_update: 'CHAT_MESSAGE_UPDATE',
  conversation_update: 'CHAT_CONVERSATION_UPDATE',
  g_notice: 'CHAT_GROUP_NOTICE',
  f_notice: 'CHAT_FRIEND_NOTICE',
  presence: 'CHAT_PRESENCE',
  sys_notice: 'CHAT_SYSTEM_NOTICE',
  upload: 'CHAT_UPLOAD',
  qrlogin: 'SSO_QRLOGIN',
} as const;

export type WireEvent = keyof typeof Actions;

/** The action key of a wire event; unknown events are reported as IMERROR. */
export const actionOf = (event: string): string => (Object.hasOwn(Actions, event) ? (Actions as Record<string, string>)[event] : 'IMERROR');
