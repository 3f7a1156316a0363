/**
 * The client's state over the client package's /chat socket (client/src/chat.ts: reconnect, offline
 * pulls, acks, resends by fp, the change feed). One store; views re-render when `version` changes.
 * Conversations are keyed by conversationId (c2c "<smaller>@<larger>", rooms the room id).
 */
import type {
  Conversation, DeliveryTick, Friend, FriendNotice, FriendRequests, GroupNotice, Me, OnlineNotice, Page, PublicUser,
  ReadReceipt, Room, RoomDetails, SystemNotice, WireMessage,
} from '../../lib/schemas/wire';
import { ChatClient, type OutgoingMessage } from '../../client/src/chat';
import { MemoryStore } from '../../client/src/storage';
import { ApiError, api, clearSession, deviceClass, onSession, rest, token } from './api';
import { c2cConversationId as c2cId, c2cParties, isRoom, TypeU } from '../../lib/conversation-ids';

export type ConnState = 'connecting' | 'online' | 'reconnecting' | 'offline' | 'replaced';

/** A message as shown: stored, or still on its way (`pending`, `failed`), or a local timeline line (`notice`). */
export interface Item extends WireMessage {
  pending?: boolean;
  failed?: string;
  notice?: string;
  progress?: number;
}

export interface Conv {
  id: string;
  typeu: TypeU;
  /** the other user (c2c) or the room id (c2g): where `to` goes */
  target: string;
  last: Item | null;
  unread: number;
  updated: number;
  msgs: Item[];
  pending: Item[];
  notices: Item[];
  loaded: boolean;
  noMore: boolean;
  /**
   * the oldest seq that history pages (newest first, without gaps) have reached: where the next page
   * starts. Not `msgs[0]`: a pull may bring an older message that was never acked on this device.
   */
  oldestLoaded: number;
  loadingOlder: boolean;
  /** highest seq the peer (c2c) or anyone (room) has read: my messages up to it show as read */
  peerRead: number;
  /** highest seq I told the server I read */
  myRead: number;
  /** highest seq of mine the peer's (c2c) or anyone's (room) device acked (`to_delivered`, §8) */
  peerDelivered: number;
  typingUntil: number;
  /** room typing (§8): who, until when */
  typers: Map<string, number>;
  /** unread messages that mention me or `all` (§8) */
  mentions: number;
  /** my settings of it (§8), kept by the server for all my devices */
  pinned: boolean;
  muted: boolean;
  archived: boolean;
  /** seq of the first unread message when the conversation was opened (the divider) */
  dividerSeq: number;
  /** its pinned messages, newest pin first (§8); null until loaded */
  pins: WireMessage[] | null;
}

export interface Toast { id: number; text: string }

const randomFp = () => Array.from(crypto.getRandomValues(new Uint8Array(12)), b => b.toString(16).padStart(2, '0')).join('');
export { c2cConversationId as c2cId } from '../../lib/conversation-ids';

class Store {
  version = 0;
  me: Me | null = null;
  conn: ConnState = 'offline';
  convs = new Map<string, Conv>();
  active: string | null = null;
  users = new Map<string, PublicUser>();
  rooms = new Map<string, Room>();
  myRooms: string[] = [];
  presence = new Map<string, string>();
  friends: Friend[] = [];
  requests: FriendRequests = { incoming: [], outgoing: [] };
  blocks: Array<{ user: PublicUser }> = [];
  banner: SystemNotice | null = null;
  /** bumped by room notices and presence changes: an open member list reloads */
  roomsRev = 0;
  /** a message to scroll to and mark (a quote, a pin or a search result was clicked); `n` counts the jumps */
  focus: { conv: string; id: string; n: number } | null = null;
  toasts: Toast[] = [];
  private listeners = new Set<() => void>();
  private queued = false;

  subscribe(fn: () => void) {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  /** Coalesces changes into one render per microtask. */
  changed() {
    this.version++;
    if (this.queued) return;
    this.queued = true;
    queueMicrotask(() => {
      this.queued = false;
      for (const fn of this.listeners) fn();
    });
  }

  toast(text: string) {
    const t = { id: Date.now() + Math.random(), text };
    this.toasts = [ ...this.toasts.slice(-3), t ];
    this.changed();
    setTimeout(() => { this.toasts = this.toasts.filter(x => x !== t); this.changed(); }, 6000);
  }
}

export const store = new Store();

/**
 * The /chat socket. Its change cursor is this page's own, in memory: taken at the page's first
 * connect, so a page that loads again loads everything fresh, and tabs do not move each other's.
 * Polling first, then websocket (socket.io's default): a network that blocks websockets still works.
 */
const chat = new ChatClient(rest, { deviceType: deviceClass, cursorStore: new MemoryStore(), transports: [ 'polling', 'websocket' ] });

/** The conversation list: pinned ones first, then the most recent. */
export const sortedConvs = () => [ ...store.convs.values() ].filter(c => c.last || c.id === store.active)
  .sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.updated - a.updated);

export function conv(id: string, typeu: TypeU, target: string): Conv {
  let c = store.convs.get(id);
  if (!c) {
    c = {
      id, typeu, target, last: null, unread: 0, updated: 0, msgs: [], pending: [], notices: [], loaded: false, noMore: false, oldestLoaded: 0,
      loadingOlder: false, peerRead: 0, myRead: 0, peerDelivered: 0, typingUntil: 0, typers: new Map(), mentions: 0, pinned: false, muted: false, archived: false, dividerSeq: 0, pins: null,
    };
    store.convs.set(id, c);
  }
  return c;
}

export function convOf(m: WireMessage): Conv {
  if (m.typeu === TypeU.C2G) return conv(m.to, TypeU.C2G, m.to);
  const me = store.me!._id;
  return conv(m.conversationId || c2cId(m.from, m.to), TypeU.C2C, m.from === me ? m.to : m.from);
}

/** Name and avatar of a conversation's other side. */
export function title(c: Conv): string {
  if (c.typeu === TypeU.C2G) return store.rooms.get(c.target)?.name ?? 'Room';
  const f = store.friends.find(x => x.user._id === c.target);
  const u = store.users.get(c.target);
  return f?.alias || u?.nickname || u?.username || 'User';
}

export const userName = (id: string) => {
  if (id === store.me?._id) return 'You';
  const f = store.friends.find(x => x.user._id === id);
  const u = store.users.get(id);
  return f?.alias || u?.nickname || u?.username || id.slice(-6);
};

const asked = new Set<string>();
/** Names of senders the store does not know (room members who are not friends), fetched once. */
function knowUser(id: string) {
  if (store.users.has(id) || asked.has(id)) return;
  asked.add(id);
  api<PublicUser>('GET', `/api/users/${id}`).then(u => { store.users.set(id, u); store.changed(); }, () => undefined);
}

/** Adds or replaces (recall, retry answered) a stored message. */
export function addMessage(m: WireMessage, opts: { live?: boolean } = {}) {
  const c = convOf(m);
  const me = store.me!._id;
  if (m.from !== me) knowUser(m.from);
  // names of the mentioned, for the highlight
  for (const id of m.mentions ?? []) if (id !== 'all') knowUser(id);
  c.pending = c.pending.filter(p => p.fp !== m.fp || p.from !== m.from);
  const at = c.msgs.findIndex(x => x._id === m._id);
  if (at >= 0) {
    const old = c.msgs[at];
    // an answer or update that is older than what is shown changes nothing
    if ((old.rev ?? 0) > (m.rev ?? 0)) return c;
    // `delivered` comes with history only: an update of the message keeps it
    c.msgs[at] = old.delivered && m.delivered === undefined ? { ...m, delivered: true } : m;
  } else {
    let i = c.msgs.length;
    while (i > 0 && c.msgs[i - 1].seq > m.seq) i--;
    c.msgs.splice(i, 0, m);
    if (opts.live && m.from !== me && store.active !== c.id) c.unread++;
  }
  if (!c.last || m.seq >= c.last.seq || c.last._id === m._id) {
    c.last = m;
    c.updated = Math.max(c.updated, m.sendTime);
  }
  if (m.from !== me) {
    c.typingUntil = 0;
    c.typers.delete(m.from);
  }
  store.changed();
  return c;
}

/**
 * A stored message changed (§8: edit, reaction, recall, pin, a quote emptied): shown where it is shown.
 * A message not loaded is not added, which would leave a gap in the history before it.
 */
export function applyUpdate(m: WireMessage) {
  const c = convOf(m);
  if (c.msgs.some(x => x._id === m._id) || c.last?._id === m._id) addMessage(m);
  if (c.pins) {
    const was = c.pins.find(x => x._id === m._id);
    if (!was || (was.rev ?? 0) <= (m.rev ?? 0)) {
      const rest = c.pins.filter(x => x._id !== m._id);
      // a new pin goes first (newest pin first); one that changed otherwise stays where it was
      c.pins = !m.pinnedBy ? rest : was ? c.pins.map(x => (x._id === m._id ? m : x)) : [ m, ...rest ];
    }
  }
  store.changed();
}

function addNotice(c: Conv, text: string, time: number) {
  const n: Item = {
    _id: `notice:${time}:${Math.random()}`, fp: '', from: '', to: c.target, type: 0, typeu: c.typeu, content: text,
    conversationId: c.id, timelineId: c.id, seq: 0, sendTime: time, notice: text,
  };
  c.notices.push(n);
  store.changed();
}

/** What a conversation shows: stored messages and local notices by time, then what is on its way. */
export function timeline(c: Conv): Item[] {
  if (!c.notices.length) return c.pending.length ? [ ...c.msgs, ...c.pending ] : c.msgs;
  const out: Item[] = [];
  let n = 0;
  for (const m of c.msgs) {
    while (n < c.notices.length && c.notices[n].sendTime < m.sendTime) out.push(c.notices[n++]);
    out.push(m);
  }
  while (n < c.notices.length) out.push(c.notices[n++]);
  return out.concat(c.pending);
}

// ---------------------------------------------------------------- socket

chat.on('state', state => {
  // a session that could not be refreshed: back to the login page
  if (state === 'signed-out') clearSession();
  store.conn = state === 'idle' || state === 'closed' || state === 'signed-out' ? 'offline' : state;
  store.changed();
  if (state === 'online') void onOnline();
});
chat.on('message', (m, { offline }) => {
  if (offline) addMessage(m); else onMessage(m);
});
chat.on('update', applyUpdate);
chat.on('gone', change => hide(change._id));
chat.on('reload', forgetLoaded);
chat.on('notice', n => {
  store.banner = n;
  store.changed();
});
chat.on('error', err => store.toast(err.message));
// (a null payload is the server's answer to one's own receipt or typing)
chat.onEvent('to_reader', list => { if (list) applyReceipts(list); });
chat.onEvent('to_delivered', applyDelivered);
chat.onEvent('conversation_update', r => {
  const c = store.convs.get(r.conversationId);
  if (c) applySettings(c, r);
});
chat.onEvent('to_typing', typing => {
  if (!typing) return;
  const { timelineId, from } = typing;
  // a room's timeline is its id; a peer's is "<from>@<to>"
  const room = !c2cParties(timelineId);
  const c = store.convs.get(room ? timelineId : c2cId(from, store.me!._id));
  if (!c) return;
  if (room) {
    c.typers.set(from, Date.now() + 4000);
    knowUser(from);
  } else {
    c.typingUntil = Date.now() + 4000;
  }
  store.changed();
  setTimeout(() => store.changed(), 4100);
});
chat.onEvent('c_online', (p: OnlineNotice) => {
  if (p.type === 'snapshot') {
    for (const id of p.clients) if (!store.presence.get(id) || store.presence.get(id) === 'offline') store.presence.set(id, 'online');
  } else if (p.type === 'online') {
    if (!store.presence.get(p.current) || store.presence.get(p.current) === 'offline') store.presence.set(p.current, 'online');
  } else {
    store.presence.set(p.current, 'offline');
  }
  store.roomsRev++;
  store.changed();
});
chat.onEvent('presence', p => {
  store.presence.set(p.id, p.presence);
  store.changed();
});
chat.onEvent('f_notice', (n: FriendNotice) => {
  const who = n.from.nickname || n.from.username;
  const text = { request: `${who} sent you a friend request`, agree: `${who} accepted your friend request`,
    refuse: `${who} declined your friend request`, removed: `${who} removed you from their friends` }[n.type];
  store.toast(n.message ? `${text}: “${n.message}”` : text);
  void loadFriends();
});
chat.onEvent('g_notice', (n: GroupNotice, meta) => { void onGroupNotice(n, meta.timestamp); });

export const connect = () => chat.connect();

export function disconnect() {
  chat.close();
}

/** "Signed in elsewhere" → the user chose to take over: a new connection kicks the other one. */
export const takeOver = () => connect();

// a rotated access token: the open socket still carries the old one (which will expire), so reconnect
let lastToken = token();
onSession(() => {
  const t = token();
  if (t === lastToken) return;
  lastToken = t;
  if (!t) {
    disconnect();
    signOutLocal();
  } else if (chat.state !== 'idle' && chat.state !== 'closed' && chat.state !== 'replaced') {
    connect();
  }
});

function applySettings(c: Conv, r: Pick<Conversation, 'pinned' | 'muted' | 'archived'>) {
  c.pinned = !!r.pinned;
  c.muted = !!r.muted;
  c.archived = !!r.archived;
  store.changed();
}

/** Pin, mute or archive a conversation for me (`PATCH /api/conversations/:timelineId`, §8). */
export async function updateSettings(c: Conv, change: Partial<Pick<Conversation, 'pinned' | 'muted' | 'archived'>>) {
  try {
    applySettings(c, await api<Conversation>('PATCH', `/api/conversations/${encodeURIComponent(c.id)}?typeu=${c.typeu}`, change));
  } catch (err) {
    report(err);
  }
}

/** Whether a message mentions me (by id, or `all`). */
export const mentionsMe = (m: WireMessage) => !!m.mentions && (m.mentions.includes('all') || m.mentions.includes(store.me!._id));

/** A live message (not one pulled at connect). */
function onMessage(m: WireMessage) {
  const known = !!convOf(m).msgs.find(x => x._id === m._id);
  const c = addMessage(m, { live: true });
  // a new message brings an archived conversation back (as the server decides it)
  if (!known) c.archived = false;
  if (!known && m.from !== store.me!._id && store.active !== c.id && mentionsMe(m)) c.mentions++;
  if (store.active === c.id) markRead(c);
}

function applyReceipts(list: ReadReceipt[]) {
  for (const r of list) {
    const c = convOfTimeline(r.timelineId, r.typeu);
    if (c && r.seq > c.peerRead) c.peerRead = r.seq;
  }
  store.changed();
}

/** the conversation a receipt or tick names by its timeline */
const convOfTimeline = (timelineId: string, typeu: number) =>
  store.convs.get(isRoom(typeu) ? timelineId : c2cId(...(c2cParties(timelineId) ?? [ timelineId, '' ])));

function applyDelivered(list: DeliveryTick[]) {
  for (const t of list) {
    const c = convOfTimeline(t.timelineId, t.typeu);
    if (c && t.seq > c.peerDelivered) c.peerDelivered = t.seq;
  }
  store.changed();
}

/** Online (again): the conversation list, read receipts and the open conversation, while the client pulls what came meanwhile. */
async function onOnline() {
  try {
    const recent = await chat.request<Conversation[]>('recent_conversation');
    for (const r of recent) {
      if (r.peer) store.users.set(r.peer._id, r.peer);
      if (r.room) store.rooms.set(r.room._id, { ...store.rooms.get(r.room._id), ...r.room });
      const c = conv(r.conversationId, r.typeu === TypeU.C2G ? TypeU.C2G : TypeU.C2C, r.typeu === TypeU.C2G ? r.conversationId : r.peer!._id);
      c.unread = store.active === c.id ? 0 : r.unread;
      c.mentions = store.active === c.id ? 0 : r.mentions;
      applySettings(c, r);
      c.updated = r.updateTime;
      if (r.lastMessage) addMessage(r.lastMessage);
    }
    applyReceipts(await chat.request<ReadReceipt[]>('readed_message'));
    const active = store.active && store.convs.get(store.active);
    if (active) { await openConv(active, true); }
    void resolveUnknown();
  } catch (err) {
    if (chat.state === 'online') report(err);
  }
}

/** A message I hid (on any device) or retention removed: gone wherever it is shown. */
function hide(id: string) {
  for (const c of store.convs.values()) {
    if (!c.msgs.some(m => m._id === id) && c.last?._id !== id && !c.pins?.some(m => m._id === id)) continue;
    c.msgs = c.msgs.filter(m => m._id !== id);
    if (c.pins) c.pins = c.pins.filter(m => m._id !== id);
    if (c.last?._id === id) c.last = c.msgs[c.msgs.length - 1] ?? c.last;
  }
  store.changed();
}

/** Loaded history is dropped; conversations load again when opened (the open one at once). */
function forgetLoaded() {
  for (const c of store.convs.values()) {
    c.msgs = c.last ? [ c.last ] : [];
    c.loaded = false;
    c.noMore = false;
    c.oldestLoaded = 0;
    c.pins = null;
  }
  store.changed();
  const active = store.active && store.convs.get(store.active);
  if (active && chat.state === 'online') void openConv(active, true);
}

/** Names of peers and rooms the conversation list mentions but the store does not know yet. */
async function resolveUnknown() {
  for (const c of store.convs.values()) {
    try {
      if (c.typeu === TypeU.C2C && !store.users.has(c.target)) store.users.set(c.target, await api<PublicUser>('GET', `/api/users/${c.target}`));
      if (c.typeu === TypeU.C2G && !store.rooms.has(c.target)) store.rooms.set(c.target, await api<Room>('GET', `/api/rooms/${c.target}`));
    } catch { /* gone: shown by id */ }
  }
  store.changed();
}

// ---------------------------------------------------------------- actions

export function report(err: unknown) {
  const msg = err instanceof ApiError ? err.message : err instanceof Error ? err.message : String(err);
  store.toast(msg);
}

export async function openConv(c: Conv, reload = false) {
  // the divider marks what was unread when the conversation was opened (not when it was last open)
  if (store.active !== c.id) c.dividerSeq = c.unread ? (c.last?.seq ?? 0) - c.unread + 1 : 0;
  store.active = c.id;
  c.unread = 0;
  c.mentions = 0;
  store.changed();
  if (!c.loaded || reload) {
    try {
      const page = await chat.request<WireMessage[]>('history_message', { timelineId: c.id, typeu: c.typeu, limit: 30 });
      for (const m of page) addMessage(m);
      if (page.length && (!c.loaded || !c.oldestLoaded)) c.oldestLoaded = Math.min(...page.map(m => m.seq));
      if (!c.loaded) c.noMore = page.length < 30;
      c.loaded = true;
    } catch (err) {
      // a conversation without messages yet is simply empty
      if (!(err instanceof ApiError) || err.code !== 10006) report(err);
      c.loaded = true;
      c.noMore = true;
    }
    store.changed();
  }
  if (!c.pins || reload) void loadPins(c);
  markRead(c);
}

async function loadPins(c: Conv) {
  try {
    c.pins = await api<WireMessage[]>('GET', `/api/messages/pinned?timelineId=${encodeURIComponent(c.id)}&typeu=${c.typeu}`);
  } catch {
    // no message yet (404), or not a member: nothing pinned to show
    c.pins = [];
  }
  store.changed();
}

export async function loadOlder(c: Conv, limit = 50) {
  if (c.noMore || c.loadingOlder || !c.oldestLoaded) return;
  c.loadingOlder = true;
  try {
    const page = await chat.request<WireMessage[]>('history_message', { timelineId: c.id, typeu: c.typeu, before: c.oldestLoaded, limit });
    for (const m of page) addMessage(m);
    if (page.length) c.oldestLoaded = Math.min(c.oldestLoaded, ...page.map(m => m.seq));
    if (page.length < limit) c.noMore = true;
  } catch (err) {
    report(err);
  } finally {
    c.loadingOlder = false;
    store.changed();
  }
}

/**
 * Opens a conversation at one of its messages (by `_id`, or by `seq` when known): older history is
 * loaded until it is there (at most 20 pages of 100), then the list scrolls to it and marks it.
 */
export async function jumpTo(c: Conv, target: { _id: string; seq?: number }) {
  if (store.active !== c.id || !c.loaded) await openConv(c);
  const here = () => c.msgs.some(m => m._id === target._id) || (target.seq !== undefined && !!c.oldestLoaded && c.oldestLoaded <= target.seq);
  for (let round = 0; round < 20 && !here() && !c.noMore; round++) {
    while (c.loadingOlder) await new Promise(r => setTimeout(r, 50));
    await loadOlder(c, 100);
  }
  if (!c.msgs.some(m => m._id === target._id)) {
    store.toast('That message is no longer there');
    return;
  }
  store.focus = { conv: c.id, id: target._id, n: (store.focus?.n ?? 0) + 1 };
  store.changed();
}

/** Tells the server (and so the senders) that everything shown in the open conversation was read. */
export function markRead(c: Conv) {
  if (document.visibilityState === 'hidden' || chat.state !== 'online') return;
  const me = store.me!._id;
  const newest = [ ...c.msgs ].reverse().find(m => m.from !== me);
  if (!newest || newest.seq <= c.myRead) return;
  c.myRead = newest.seq;
  chat.request('to_reader', { timelineId: c.id, typeu: c.typeu, seq: newest.seq }).catch(() => undefined);
}
document.addEventListener('visibilitychange', () => {
  const c = store.active && store.convs.get(store.active);
  if (c) markRead(c);
});

/** Hands a message on its way to the client, which sends it (again, same fp) until the server stored it or refused it. */
function deliver(p: Item) {
  const input: OutgoingMessage = { type: p.type, to: p.to, content: p.content, fp: p.fp, typeu: p.typeu as TypeU };
  if (p.extra) input.extra = p.extra;
  if (p.replyTo) input.replyTo = p.replyTo._id;
  if (p.mentions) input.mentions = p.mentions;
  chat.send(input).then(m => addMessage(m), (err: unknown) => {
    p.failed = err instanceof Error ? err.message : 'not sent';
    store.changed();
  });
}

/** What a reply shows of the message it answers until the server's quote arrives (§8: 100 characters of text). */
export const quoteOf = (m: WireMessage) => ({ _id: m._id, from: m.from, type: m.type, excerpt: m.type === 1 ? [ ...m.content ].slice(0, 100).join('') : '' });

/** Sends a message now or, when offline, as soon as the connection is back. */
export function send(c: Conv, type: number, content: string, extra?: Record<string, unknown>, more: { replyTo?: WireMessage; mentions?: string[] } = {}) {
  const p = local(c, type, content);
  if (extra) p.extra = extra;
  if (more.replyTo) p.replyTo = quoteOf(more.replyTo);
  if (more.mentions?.length) p.mentions = more.mentions;
  c.pending.push(p);
  c.updated = Date.now();
  store.changed();
  stopTyping();
  deliver(p);
}

export function local(c: Conv, type: number, content: string): Item {
  const fp = randomFp();
  return {
    _id: `local:${fp}`, fp, from: store.me!._id, to: c.target, type, typeu: c.typeu, content, conversationId: c.id,
    timelineId: c.id, seq: Number.MAX_SAFE_INTEGER, sendTime: Date.now(), pending: true,
  };
}

export function retry(p: Item) {
  p.failed = undefined;
  store.changed();
  deliver(p);
}

export function discard(c: Conv, p: Item) {
  c.pending = c.pending.filter(x => x !== p);
  store.changed();
}

export async function recall(m: Item) {
  try {
    addMessage(await chat.request<WireMessage>('to_undo', { _id: m._id }));
  } catch (err) {
    report(err);
  }
}

/** §8 changes of a stored message: the answer is the message as stored now. */
async function change(event: 'to_edit' | 'to_react' | 'to_pin', payload: Record<string, unknown>) {
  try {
    applyUpdate(await chat.request<WireMessage>(event, payload));
    return true;
  } catch (err) {
    report(err);
    return false;
  }
}
export const edit = (m: WireMessage, content: string) => change('to_edit', { _id: m._id, content });
export const react = (m: WireMessage, emoji: string, on: boolean) => change('to_react', { _id: m._id, emoji, on });
export const pin = (m: WireMessage, on: boolean) => change('to_pin', { _id: m._id, on });

export async function hideForMe(c: Conv, m: Item) {
  try {
    await api('DELETE', `/api/messages/${m._id}`);
    c.msgs = c.msgs.filter(x => x._id !== m._id);
    store.changed();
  } catch (err) {
    report(err);
  }
}

/** when this tab last said it was typing, and where: at most every 2 s per conversation */
let lastTyping = { conv: '', at: 0 };
export function typing(c: Conv) {
  if (chat.state !== 'online' || (lastTyping.conv === c.id && Date.now() - lastTyping.at < 2000)) return;
  lastTyping = { conv: c.id, at: Date.now() };
  chat.request('to_typing', { to: c.target, typeu: c.typeu }).catch(() => undefined);
}
/** the composer was emptied or sent: the next keystroke may say so again at once */
export const stopTyping = () => { lastTyping = { conv: '', at: 0 }; };

/** Who is typing in a conversation now, as shown: "typing…" (c2c), "Bob is typing…", "Bob and Carol are typing…". */
export function typingText(c: Conv): string {
  if (c.typeu === TypeU.C2C) return c.typingUntil > Date.now() ? 'typing…' : '';
  const now = Date.now();
  const who = [ ...c.typers ].filter(([ , until ]) => until > now).map(([ id ]) => userName(id));
  if (!who.length) return '';
  if (who.length === 1) return `${who[0]} is typing…`;
  if (who.length === 2) return `${who[0]} and ${who[1]} are typing…`;
  return `${who.length} people are typing…`;
}

/** A room's members (for @ completion), asked once per room and again after room changes. */
const memberCache = new Map<string, { rev: number; users: PublicUser[] }>();
export async function roomMembers(roomId: string): Promise<PublicUser[]> {
  const hit = memberCache.get(roomId);
  if (hit && hit.rev === store.roomsRev) return hit.users;
  const info = await api<RoomDetails>('GET', `/api/rooms/${roomId}`);
  const users = [ ...info.members.online, ...info.members.offline ];
  for (const u of users) store.users.set(u._id, u);
  memberCache.set(roomId, { rev: store.roomsRev, users });
  return users;
}

// ---------------------------------------------------------------- friends, rooms, account

export async function loadFriends() {
  try {
    const [ friends, requests, blocks ] = await Promise.all([
      api<Friend[]>('GET', '/api/friends'),
      api<FriendRequests>('GET', '/api/friends/requests'),
      api<Array<{ user: PublicUser }>>('GET', '/api/blocks'),
    ]);
    store.friends = friends;
    store.requests = requests;
    store.blocks = blocks;
    for (const f of friends) {
      store.users.set(f.user._id, f.user);
      store.presence.set(f.user._id, f.presence);
    }
    store.changed();
  } catch (err) {
    report(err);
  }
}

export async function loadRooms() {
  try {
    const mine = await api<Page<Room>>('GET', '/api/rooms?mine=1&limit=50');
    for (const r of mine.docs) store.rooms.set(r._id, r);
    store.myRooms = mine.docs.map(r => r._id);
    store.changed();
  } catch (err) {
    report(err);
  }
}

async function onGroupNotice(n: GroupNotice, time: number) {
  const me = store.me!._id;
  const c = conv(n.room, TypeU.C2G, n.room);
  const who = n.user ? userName(n.user) : 'Someone';
  const was = n.user === me ? 'were' : 'was';
  const text: Record<string, string> = {
    created: `${who} created the room`,
    join: n.newbie ? `${who} ${was} added` : `${who} joined`,
    leave: `${who} left`,
    kick: `${who} ${was} removed`,
    update: `Room updated${n.changes ? `: ${Object.keys(n.changes).join(', ')}` : ''}`,
    owner: `${who} ${n.user === me ? 'are' : 'is'} now the owner`,
    dissolve: 'The room was dissolved',
  };
  if (n.user && !store.users.has(n.user)) {
    try { store.users.set(n.user, await api<PublicUser>('GET', `/api/users/${n.user}`)); } catch { /* shown by id */ }
    text.join = n.newbie ? `${userName(n.user)} ${was} added` : `${userName(n.user)} joined`;
  }
  addNotice(c, text[n.event] ?? n.event, time);
  // an open member list reloads, unless there is no room left to load
  if (n.event !== 'dissolve') store.roomsRev++;
  if (n.event === 'update' && n.changes) {
    const r = store.rooms.get(n.room);
    if (r) store.rooms.set(n.room, { ...r, ...(n.changes as Partial<Room>) });
  }
  if (n.event === 'dissolve' || ((n.event === 'leave' || n.event === 'kick') && n.user === me)) {
    store.myRooms = store.myRooms.filter(id => id !== n.room);
    store.changed();
  } else {
    void loadRooms();
  }
}

/** After login: who I am, then everything else over the socket and REST. */
export async function start() {
  store.me = await api<Me>('GET', '/api/users/me');
  store.users.set(store.me._id, store.me);
  store.changed();
  connect();
  void loadFriends();
  void loadRooms();
}

function signOutLocal() {
  store.me = null;
  store.convs.clear();
  store.active = null;
  store.friends = [];
  store.myRooms = [];
  store.banner = null;
  store.changed();
}

export async function logout() {
  // first: the server tells the session's sockets 20001, which would start a refresh
  disconnect();
  // the session ends here anyway (rest.logout forgets it whatever the server said)
  await rest.logout().catch(() => undefined);
  signOutLocal();
}
