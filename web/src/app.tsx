/** The signed-in app: conversations, friends and rooms on the side, the open conversation in the middle. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type {
  Friend, Page, PublicUser, Reaction, ReplyQuote, Room, RoomDetails, SearchHit, SearchResult, WireMessage,
} from '../../lib/schemas/wire';
import { api, upload } from './api';
import {
  type Conv, type Item, c2cId, conv, convOf, discard, edit, hideForMe, jumpTo, loadFriends, loadOlder, loadRooms, local, logout, markRead,
  mentionsMe, openConv, pin, stopTyping, updateSettings, react, recall, report, retry, roomMembers, send, sortedConvs, store, takeOver, timeline, title, typing,
  typingText, userName,
} from './chat';
import { Content } from './content';
import { VirtualList } from './vlist';
import { PushButton, useNotificationClicks } from './push';
import { TypeU } from '../../lib/conversation-ids';

const RECALL_WINDOW = 120_000;

const time = (ms: number) => {
  const d = new Date(ms);
  return d.toDateString() === new Date().toDateString()
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleDateString([], { month: 'short', day: 'numeric' });
};

/** Avatars from gravatar (signup) or our own files; initials otherwise or when the image fails. */
export function Avatar({ user, size = 36 }: { user?: { nickname?: string; username?: string; avatar?: string; name?: string } | null; size?: number }) {
  const [ broken, setBroken ] = useState(false);
  const name = user?.nickname || user?.name || user?.username || '?';
  const src = user?.avatar ?? '';
  const ok = !broken && (/^https:\/\/([a-z0-9-]+\.)?gravatar\.com\//.test(src) || /^\/files\/[0-9a-f]{32}$/.test(src));
  const cls = `avatar s${size}`;
  return ok
    ? <img class={cls} src={src} alt="" onError={() => setBroken(true)} referrerpolicy="no-referrer" />
    : <span class={cls} aria-hidden="true">{name.slice(0, 1).toUpperCase()}</span>;
}

function Dot({ id }: { id: string }) {
  const p = store.presence.get(id) ?? 'offline';
  const kind = [ 'online', 'away', 'busy', 'offline' ].includes(p) ? p : 'online';
  return <span class={`dot ${kind}`} title={p} data-presence={p} />;
}

const previewOf = (m: WireMessage | null) => {
  if (!m) return '';
  if (m.type === 10 || m.type === 21) return 'message recalled';
  if (m.type === 2) return '[image]';
  if (m.type === 3) return '[voice]';
  if (m.type === 4) return '[file]';
  return m.content.slice(0, 80);
};

// ---------------------------------------------------------------- side panels

function ChatRow({ c, onOpen }: { c: Conv; onOpen: (c: Conv) => void }) {
  const items: Array<[ string, () => unknown ]> = [
    [ c.pinned ? 'Unpin' : 'Pin to top', () => updateSettings(c, { pinned: !c.pinned }) ],
    [ c.muted ? 'Unmute' : 'Mute', () => updateSettings(c, { muted: !c.muted }) ],
    [ c.archived ? 'Unarchive' : 'Archive', () => updateSettings(c, { archived: !c.archived }) ],
  ];
  return (
    <li class={`${store.active === c.id ? 'active' : ''}${c.muted ? ' muted' : ''}`} onClick={() => onOpen(c)} data-conv={c.id}
      data-pinned={c.pinned || undefined} data-muted={c.muted || undefined}>
      {c.typeu === TypeU.C2G ? <Avatar user={{ name: title(c) }} /> : <span class="with-dot"><Avatar user={store.users.get(c.target)} /><Dot id={c.target} /></span>}
      <div class="grow">
        <div class="row"><b class="name">{title(c)}</b><small class="when">{c.last ? time(c.last.sendTime) : ''}</small></div>
        <div class="row"><span class="preview grow">{typingText(c) || previewOf(c.last)}</span>
          {c.pinned && <small class="flag" data-testid="pinned-flag">pinned</small>}
          {c.muted && <small class="flag" data-testid="muted-flag">muted</small>}
          {c.mentions > 0 && <span class="badge mention-badge" data-testid="mention-badge" title={`${c.mentions} unread mention${c.mentions > 1 ? 's' : ''}`}>@{c.mentions > 1 ? c.mentions : ''}</span>}
          {c.unread > 0 && <span class="badge" data-testid="unread">{c.unread}</span>}</div>
      </div>
      {/* the row opens the conversation; its menu does not */}
      <span onClick={e => e.stopPropagation()}><Menu items={items} /></span>
    </li>
  );
}

/** A search hit's text: a window around the first match, every match marked. */
function Highlighted({ hit }: { hit: SearchHit }) {
  const text = hit.content;
  const marks = [ ...hit.highlights ].sort((a, b) => a[0] - b[0]);
  const from = Math.max(0, (marks[0]?.[0] ?? 0) - 30);
  const to = Math.min(text.length, from + 160);
  const parts: Array<string | preact.JSX.Element> = [ from > 0 ? '…' : '' ];
  let at = from;
  for (const [ start, end ] of marks) {
    if (end <= at || start >= to) continue;
    if (start > at) parts.push(text.slice(at, start));
    parts.push(<mark>{text.slice(Math.max(start, at), Math.min(end, to))}</mark>);
    at = Math.min(end, to);
  }
  if (at < to) parts.push(text.slice(at, to));
  if (to < text.length) parts.push('…');
  return <span class="hit-text">{parts}</span>;
}

/** Message search (§8) over all of my conversations; a result opens its conversation at the message. */
function Search({ children }: { children: ComponentChildren }) {
  const [ q, setQ ] = useState('');
  const [ result, setResult ] = useState<{ q: string; docs: SearchHit[]; next?: string } | null>(null);
  const [ busy, setBusy ] = useState(false);
  const run = async (before?: string) => {
    const query = before ? result!.q : q.trim();
    if (!query) return;
    setBusy(true);
    try {
      const page = await api<SearchResult>('GET', `/api/messages/search?q=${encodeURIComponent(query)}&limit=20${before ? `&before=${before}` : ''}`);
      setResult({ q: query, docs: before ? [ ...result!.docs, ...page.docs ] : page.docs, next: page.next });
    } catch (err) {
      report(err);
    } finally {
      setBusy(false);
    }
  };
  const clear = () => { setQ(''); setResult(null); };
  // opens the conversation (as onOpen would) and loads its history back to the message
  const open = (hit: SearchHit) => { void jumpTo(convOf(hit), { _id: hit._id, seq: hit.seq }); };
  return (
    <div class="chats" data-testid="search">
      <form class="inline search" onSubmit={e => { e.preventDefault(); void run(); }}>
        <input name="search" placeholder="Search messages" value={q} aria-label="Search messages"
          onInput={e => setQ((e.target as HTMLInputElement).value)} onKeyDown={e => { if (e.key === 'Escape') { e.preventDefault(); clear(); } }} />
        {result && <button type="button" onClick={clear} aria-label="Clear the search">✕</button>}
      </form>
      {result ? (
        <ul class="list hits" data-testid="search-hits">
          {!result.docs.length && <li class="empty">Nothing found for “{result.q}”.</li>}
          {result.docs.map(hit => {
            const c = convOf(hit);
            return (
              <li key={hit._id} data-id={hit._id}>
                <button class="hit" onClick={() => open(hit)}>
                  <div class="row"><b class="name">{title(c)}</b><small class="when">{time(hit.sendTime)}</small></div>
                  <div class="preview">{c.typeu === TypeU.C2G && <>{userName(hit.from)}: </>}<Highlighted hit={hit} /></div>
                </button>
              </li>
            );
          })}
          {result.next && <li><button class="link" disabled={busy} onClick={() => void run(result.next)}>More results</button></li>}
        </ul>
      ) : children}
    </div>
  );
}

function Chats({ onOpen }: { onOpen: (c: Conv) => void }) {
  const all = sortedConvs();
  const list = all.filter(c => !c.archived);
  const archived = all.filter(c => c.archived);
  return (
    <Search>
      {!all.length && <p class="empty">No conversations yet. Add a friend or join a room to start one.</p>}
      <ul class="list" data-testid="conversations">
        {list.map(c => <ChatRow key={c.id} c={c} onOpen={onOpen} />)}
      </ul>
      {archived.length > 0 && (
        <details class="archived" data-testid="archived">
          <summary>Archived ({archived.length})</summary>
          <ul class="list" data-testid="archived-conversations">
            {archived.map(c => <ChatRow key={c.id} c={c} onOpen={onOpen} />)}
          </ul>
        </details>
      )}
    </Search>
  );
}

function Friends({ onChat }: { onChat: (id: string) => void }) {
  const [ q, setQ ] = useState('');
  const [ found, setFound ] = useState<PublicUser[] | null>(null);
  const [ note, setNote ] = useState('');
  const search = async (e: Event) => {
    e.preventDefault();
    if (!q.trim()) return;
    try { setFound(await api<PublicUser[]>('GET', `/api/users?q=${encodeURIComponent(q.trim())}&limit=20`)); } catch (err) { report(err); }
  };
  const act = async (fn: () => Promise<unknown>, done?: string) => {
    try { await fn(); if (done) store.toast(done); await loadFriends(); } catch (err) { report(err); }
  };
  const me = store.me!._id;
  const groups = new Map<string, Friend[]>();
  for (const f of store.friends) groups.set(f.group || 'Friends', [ ...(groups.get(f.group || 'Friends') ?? []), f ]);
  const edit = (f: Friend) => {
    const alias = prompt('Alias for this friend (empty for none)', f.alias);
    if (alias === null) return;
    const group = prompt('Group', f.group);
    if (group === null) return;
    void act(() => api('PATCH', `/api/friends/${f.user._id}`, { alias: alias.trim(), group: group.trim() || 'Friends' }));
  };
  return (
    <div class="panel" data-testid="friends">
      <form class="inline" onSubmit={search}>
        <input name="q" placeholder="Find people by name" value={q} onInput={e => setQ((e.target as HTMLInputElement).value)} />
        <button>Search</button>
      </form>
      {found && (
        <ul class="list compact" data-testid="search-results">
          {!found.filter(u => u._id !== me).length && <li class="empty">Nobody found.</li>}
          {found.filter(u => u._id !== me).map(u => (
            <li key={u._id}>
              <Avatar user={u} size={28} /><span class="grow">{u.nickname} <small>@{u.username}</small></span>
              {store.friends.some(f => f.user._id === u._id) ? <small>friend</small>
                : <button onClick={() => act(() => api('POST', '/api/friends/requests', { to: u._id, ...(note.trim() ? { message: note.trim() } : {}) }), 'Request sent')}>Add</button>}
            </li>
          ))}
          <li><input class="grow" name="note" placeholder="Message with the request (optional)" value={note} onInput={e => setNote((e.target as HTMLInputElement).value)} /></li>
        </ul>
      )}
      {store.requests.incoming.length > 0 && <h3>Requests</h3>}
      <ul class="list compact" data-testid="incoming">
        {store.requests.incoming.map(r => (
          <li key={r._id}>
            <Avatar user={r.from} size={28} />
            <span class="grow">{r.from.nickname}{r.message && <small> “{r.message}”</small>}</span>
            <button class="primary" onClick={() => act(() => api('POST', `/api/friends/requests/${r.from._id}/accept`, {}))}>Accept</button>
            <button onClick={() => act(() => api('POST', `/api/friends/requests/${r.from._id}/refuse`, {}))}>Refuse</button>
          </li>
        ))}
      </ul>
      {store.requests.outgoing.length > 0 && <p class="hint">Waiting for: {store.requests.outgoing.map(r => r.to.nickname).join(', ')}</p>}
      {!store.friends.length && <p class="empty">No friends yet: search for someone above.</p>}
      {[ ...groups ].map(([ group, list ]) => (
        <div key={group}>
          <h3>{group}</h3>
          <ul class="list compact">
            {list.map(f => (
              <li key={f.user._id} data-friend={f.user.username}>
                <span class="with-dot"><Avatar user={f.user} size={28} /><Dot id={f.user._id} /></span>
                <span class="grow" onClick={() => onChat(f.user._id)}>{f.alias || f.user.nickname}
                  <small> {store.presence.get(f.user._id) ?? f.presence}</small></span>
                <button onClick={() => onChat(f.user._id)} title="Chat">Chat</button>
                <Menu items={[
                  [ 'Alias / group…', () => edit(f) ],
                  [ 'Remove friend', () => confirm(`Remove ${f.user.nickname}?`) && act(() => api('DELETE', `/api/friends/${f.user._id}`)) ],
                  [ 'Block', () => confirm(`Block ${f.user.nickname}?`) && act(() => api('POST', `/api/blocks/${f.user._id}`), 'Blocked') ],
                ]} />
              </li>
            ))}
          </ul>
        </div>
      ))}
      {store.blocks.length > 0 && <>
        <h3>Blocked</h3>
        <ul class="list compact">
          {store.blocks.map(b => (
            <li key={b.user._id}><span class="grow">{b.user.nickname}</span>
              <button onClick={() => act(() => api('DELETE', `/api/blocks/${b.user._id}`), 'Unblocked')}>Unblock</button></li>
          ))}
        </ul>
      </>}
    </div>
  );
}

/** Escape closes an open menu (or list) and gives the focus back to its button. */
function closeOnEscape(e: KeyboardEvent) {
  const menu = e.currentTarget as HTMLDetailsElement;
  if (e.key !== 'Escape' || !menu.open) return;
  e.preventDefault();
  e.stopPropagation();
  menu.open = false;
  menu.querySelector('summary')?.focus();
}

/** A menu near the top of a scrolled list opens downwards, where it is not cut off. */
function placeMenu(e: Event) {
  const menu = e.currentTarget as HTMLDetailsElement;
  const list = menu.closest('.vlist');
  if (!menu.open || !list) return;
  menu.classList.toggle('down', menu.getBoundingClientRect().top - list.getBoundingClientRect().top < 300);
}

function Menu({ items, header }: { items: Array<[ string, () => unknown ]>; header?: preact.JSX.Element }) {
  return (
    <details class="menu" onToggle={placeMenu} onKeyDown={closeOnEscape}>
      <summary aria-label="More">⋯</summary>
      <div class="menu-items">
        {header}
        {items.map(([ label, fn ]) => <button key={label} onClick={e => { (e.currentTarget as HTMLElement).closest('details')!.open = false; fn(); }}>{label}</button>)}
      </div>
    </details>
  );
}

function Rooms({ onOpen }: { onOpen: (id: string) => void }) {
  const [ name, setName ] = useState('');
  const [ priv, setPriv ] = useState(false);
  const [ browse, setBrowse ] = useState<Room[] | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    if (!name.trim()) return;
    try {
      const r = await api<Room>('POST', '/api/rooms', { name: name.trim(), visibility: priv ? 'private' : 'public' });
      store.rooms.set(r._id, r);
      setName('');
      await loadRooms();
      onOpen(r._id);
    } catch (err) { report(err); }
  };
  const load = async () => {
    try { setBrowse((await api<Page<Room>>('GET', '/api/rooms?limit=50')).docs); } catch (err) { report(err); }
  };
  const join = async (r: Room) => {
    try { await api('POST', `/api/rooms/${r._id}/join`); store.rooms.set(r._id, r); await loadRooms(); onOpen(r._id); } catch (err) { report(err); }
  };
  return (
    <div class="panel" data-testid="rooms">
      <form class="inline" onSubmit={create}>
        <input name="room" placeholder="New room name" value={name} onInput={e => setName((e.target as HTMLInputElement).value)} />
        <label class="check"><input type="checkbox" checked={priv} onChange={e => setPriv((e.target as HTMLInputElement).checked)} /> private</label>
        <button>Create</button>
      </form>
      <h3>My rooms</h3>
      {!store.myRooms.length && <p class="empty">You are in no room yet.</p>}
      <ul class="list compact">
        {store.myRooms.map(id => store.rooms.get(id)).filter(Boolean).map(r => (
          <li key={r!._id} onClick={() => onOpen(r!._id)} data-room={r!.name}>
            <Avatar user={{ name: r!.name }} size={28} /><span class="grow">{r!.name}</span><small>{r!.memberCount} members</small>
          </li>
        ))}
      </ul>
      <h3>Public rooms <button class="link" onClick={load}>{browse ? 'refresh' : 'browse'}</button></h3>
      {browse && !browse.length && <p class="empty">No public rooms yet.</p>}
      {browse && (
        <ul class="list compact" data-testid="public-rooms">
          {browse.map(r => (
            <li key={r._id} data-room={r.name}>
              <Avatar user={{ name: r.name }} size={28} />
              <span class="grow">{r.name} <small>{r.onlineUsers ?? 0} online · {r.memberCount} members</small></span>
              {store.myRooms.includes(r._id) ? <button onClick={() => onOpen(r._id)}>Open</button> : <button class="primary" onClick={() => join(r)}>Join</button>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

// ---------------------------------------------------------------- the conversation

function RoomInfo({ room, onClose }: { room: string; onClose: () => void }) {
  const [ info, setInfo ] = useState<RoomDetails | null>(null);
  const me = store.me!._id;
  const load = () => api<RoomDetails>('GET', `/api/rooms/${room}`).then(setInfo, report);
  useEffect(() => { void load(); }, [ room, store.roomsRev ]);
  if (!info) return <aside class="info"><p class="empty">Loading…</p></aside>;
  const owner = info.owner === me;
  const act = async (fn: () => Promise<unknown>) => { try { await fn(); await load(); await loadRooms(); } catch (err) { report(err); } };
  /** left or dissolved: nothing to show here any more */
  const gone = (done: Promise<unknown>) => done.then(() => { onClose(); return loadRooms(); }, report);
  const patch = (field: 'name' | 'notice' | 'intro', label: string) => {
    const v = prompt(label, (info as unknown as Record<string, string>)[field] ?? '');
    if (v !== null) void act(() => api('PATCH', `/api/rooms/${room}`, { [field]: v }));
  };
  const add = async () => {
    const q = prompt('Add who? (username)');
    if (!q) return;
    const found = await api<PublicUser[]>('GET', `/api/users?q=${encodeURIComponent(q)}&limit=5`).catch(() => []);
    const u = found.find(x => x.username.toLowerCase() === q.toLowerCase()) ?? found[0];
    if (!u) return store.toast('Nobody by that name');
    void act(() => api('POST', `/api/rooms/${room}/members`, { add: [ u._id ] }));
  };
  const member = (u: PublicUser, online: boolean) => (
    <li key={u._id}>
      <span class="with-dot"><Avatar user={u} size={24} /><span class={`dot ${online ? 'online' : 'offline'}`} /></span>
      <span class="grow">{u.nickname}{u._id === info.owner && <small> owner</small>}</span>
      {owner && u._id !== me && <Menu items={[
        [ 'Remove from room', () => act(() => api('POST', `/api/rooms/${room}/members`, { remove: [ u._id ] })) ],
        [ 'Make owner', () => confirm(`Make ${u.nickname} the owner?`) && act(() => api('PATCH', `/api/rooms/${room}`, { owner: u._id })) ],
      ]} />}
    </li>
  );
  return (
    <aside class="info" data-testid="room-info">
      <div class="row"><h2>{info.name}</h2><button onClick={onClose} aria-label="Close">✕</button></div>
      <p class="hint">{info.visibility} · {info.memberCount} members</p>
      {info.intro && <p>{info.intro}</p>}
      {info.notice && <p class="room-notice"><b>Notice:</b> {info.notice}</p>}
      <h3>Online ({info.members.online.length})</h3>
      <ul class="list compact">{info.members.online.map(u => member(u, true))}</ul>
      <h3>Offline ({info.members.offline.length})</h3>
      <ul class="list compact">{info.members.offline.map(u => member(u, false))}</ul>
      <div class="actions">
        {(owner || info.visibility === 'private') && <button onClick={add}>Add member…</button>}
        {owner && <>
          <button onClick={() => patch('name', 'Room name')}>Rename…</button>
          <button onClick={() => patch('notice', 'Room notice')}>Notice…</button>
          <button class="danger" onClick={() => confirm('Dissolve this room for everyone?') && gone(api('DELETE', `/api/rooms/${room}`))}>Dissolve</button>
        </>}
        {!owner && <button class="danger" onClick={() => gone(api('POST', `/api/rooms/${room}/leave`))}>Leave room</button>}
      </div>
    </aside>
  );
}

function Ticks({ c, m }: { c: Conv; m: Item }) {
  if (m.from !== store.me!._id || m.notice) return null;
  if (m.failed) return <span class="tick failed" data-status="failed" title={m.failed}>!</span>;
  if (m.pending) return <span class="tick" data-status="pending" title="sending">…</span>;
  if (m.seq <= c.peerRead) return <span class="tick read" data-status="read" title="read">✓✓</span>;
  if (m.delivered || m.seq <= c.peerDelivered) return <span class="tick" data-status="delivered" title="delivered">✓✓</span>;
  return <span class="tick" data-status="sent" title="sent">✓</span>;
}

/** The reactions the picker offers (as text: the platform's emoji font draws them). */
const COMMON_EMOJI = [ '👍', '❤️', '😂', '😮', '😢', '🎉' ];

const isRecalled = (m: { type: number }) => m.type === 10 || m.type === 21;

/** Who reacted, for the chip's title: names of the first 20 (the wire's), then how many more. */
function reactors(r: Reaction) {
  const names = r.users.map(userName).join(', ');
  return r.count > r.users.length ? `${names} and ${r.count - r.users.length} more` : names;
}

function Quote({ c, q }: { c: Conv; q: ReplyQuote }) {
  const text = q.excerpt || (q.type === 2 ? '[image]' : q.type === 3 ? '[voice]' : q.type === 4 ? '[file]' : 'message recalled');
  return (
    <button class="quote" data-testid="quote" title="Show the message" onClick={() => void jumpTo(c, { _id: q._id })}>
      <b>{userName(q.from)}</b> <span>{text}</span>
    </button>
  );
}

/** The names a message's mentions are written with (`@username`, `@all`), and which of them mean me. */
function mentionedIn(m: WireMessage) {
  const me = store.me!;
  return { names: (m.mentions ?? []).map(id => (id === 'all' ? 'all' : store.users.get(id)?.username ?? '')), mine: [ 'all', me.username ] };
}

interface Suggestion { username: string; label: string; user?: PublicUser }

interface MessageActions { onReply: (m: Item) => void; onEdit: (m: Item) => void }

function Message({ c, m, divider, focused, actions }: { c: Conv; m: Item; divider: boolean; focused: boolean; actions: MessageActions }) {
  if (m.notice) return <div class="notice-line" data-testid="g-notice">{m.notice}</div>;
  const me = store.me!._id;
  const mine = m.from === me;
  const stored = !m.pending && !m.failed;
  const live = stored && !isRecalled(m);
  const canRecall = mine && live && Date.now() - m.sendTime < RECALL_WINDOW;
  const mayPin = c.typeu === TypeU.C2C || store.rooms.get(c.target)?.owner === me;
  const items: Array<[ string, () => unknown ]> = [];
  if (live) items.push([ 'Reply', () => actions.onReply(m) ]);
  if (live && mine && m.type === 1) items.push([ 'Edit', () => actions.onEdit(m) ]);
  if (live && mayPin) items.push(m.pinnedBy ? [ 'Unpin', () => pin(m, false) ] : [ 'Pin', () => pin(m, true) ]);
  if (canRecall) items.push([ 'Recall', () => recall(m) ]);
  if (!m.pending) items.push([ 'Delete for me', () => hideForMe(c, m) ]);
  if (m.failed) items.push([ 'Retry', () => retry(m) ], [ 'Discard', () => discard(c, m) ]);
  const reacted = (r: Reaction) => r.users.includes(me);
  return (
    <>
      {divider && <div class="divider" data-testid="new-divider"><span>New messages</span></div>}
      <div class={`msg ${mine ? 'mine' : 'theirs'}${focused ? ' focused' : ''}${!mine && mentionsMe(m) ? ' mentions-me' : ''}`} data-fp={m.fp} data-id={m._id} data-type={m.type}>
        {!mine && c.typeu === TypeU.C2G && <Avatar user={store.users.get(m.from)} size={28} />}
        <div class="bubble">
          {!mine && c.typeu === TypeU.C2G && <div class="sender">{userName(m.from)}</div>}
          {m.replyTo && <Quote c={c} q={m.replyTo} />}
          {m.progress !== undefined && m.pending
            ? <div class="upload" data-testid="upload-progress"><progress max={1} value={m.progress} /> {Math.round(m.progress * 100)}%</div>
            : <Content m={m} mentioned={m.mentions?.length ? mentionedIn(m) : undefined} />}
          {m.reactions && m.reactions.length > 0 && (
            <div class="reactions">
              {m.reactions.map(r => (
                <button key={r.emoji} class={`reaction${reacted(r) ? ' on' : ''}`} data-emoji={r.emoji} title={reactors(r)} aria-pressed={reacted(r)}
                  onClick={() => void react(m, r.emoji, !reacted(r))}>{r.emoji} <span class="count">{r.count}</span></button>
              ))}
            </div>
          )}
          <div class="meta">
            {m.pinnedBy && <small class="pinned-mark" data-testid="pinned-mark">pinned</small>}
            {m.editedAt && live && <small class="edited" data-testid="edited" title={`edited ${time(m.editedAt)}`}>edited</small>}
            <small>{time(m.sendTime)}</small><Ticks c={c} m={m} />
          </div>
        </div>
        {items.length > 0 && <Menu items={items} header={live ? (
          <div class="picker" role="group" aria-label="React">
            {COMMON_EMOJI.map(e => (
              <button key={e} data-emoji={e} title={`React with ${e}`} onClick={ev => {
                (ev.currentTarget as HTMLElement).closest('details')!.open = false;
                const r = m.reactions?.find(x => x.emoji === e);
                void react(m, e, !(r && reacted(r)));
              }}>{e}</button>
            ))}
          </div>
        ) : undefined} />}
      </div>
    </>
  );
}

/** The pinned messages of a conversation: the newest in a bar, all of them in its list; each jumps to the message. */
function PinnedBar({ c }: { c: Conv }) {
  const pins = c.pins ?? [];
  if (!pins.length) return null;
  const label = (m: WireMessage) => `${userName(m.from)}: ${previewOf(m)}`;
  return (
    <div class="pinned-bar" data-testid="pinned-bar">
      <b>Pinned</b>
      <button class="link grow pinned-first" onClick={() => void jumpTo(c, pins[0])}>{label(pins[0])}</button>
      {pins.length > 1 && (
        <details class="menu pins" onKeyDown={closeOnEscape}>
          <summary data-testid="pins-all">all {pins.length}</summary>
          <div class="menu-items">
            {pins.map(m => <button key={m._id} onClick={e => { (e.currentTarget as HTMLElement).closest('details')!.open = false; void jumpTo(c, m); }}>{label(m)}</button>)}
          </div>
        </details>
      )}
    </div>
  );
}

function ChatView({ c, onBack }: { c: Conv; onBack: () => void }) {
  const [ text, setText ] = useState('');
  const [ info, setInfo ] = useState(false);
  /** the message the next one answers, or the one being edited (the composer holds its new text) */
  const [ replying, setReplying ] = useState<Item | null>(null);
  const [ editing, setEditing ] = useState<Item | null>(null);
  /** `@` completion: where the `@` is, the choices, the highlighted one */
  const [ suggest, setSuggest ] = useState<{ at: number; end: number; list: Suggestion[]; index: number } | null>(null);
  const [ members, setMembers ] = useState<PublicUser[]>([]);
  const fileInput = useRef<HTMLInputElement>(null);
  const composer = useRef<HTMLTextAreaElement>(null);
  useEffect(() => { setInfo(false); setReplying(null); setEditing(null); setSuggest(null); }, [ c.id ]);
  const owner = c.typeu === TypeU.C2G && store.rooms.get(c.target)?.owner === store.me!._id;
  useEffect(() => {
    setMembers([]);
    if (c.typeu === TypeU.C2G && store.myRooms.includes(c.target)) roomMembers(c.target).then(setMembers, () => undefined);
  }, [ c.id, store.roomsRev ]);
  /** after each keystroke: is the caret right after `@name` in a room? then offer members (and `all` to the owner) */
  const complete = async (v: string, caret: number) => {
    const word = c.typeu === TypeU.C2G ? /(?:^|\s)@([\w.-]{0,32})$/.exec(v.slice(0, caret)) : null;
    if (!word) { setSuggest(null); return; }
    // an `@` typed before the member list came waits for it (asked once, then cached)
    const known = members.length ? members : await roomMembers(c.target).catch(() => [] as PublicUser[]);
    if (known !== members) setMembers(known);
    if (composer.current?.value !== v) return;
    const q = word[1].toLowerCase();
    const me = store.me!._id;
    const list: Suggestion[] = known.filter(u => u._id !== me && (u.username.toLowerCase().startsWith(q) || u.nickname.toLowerCase().startsWith(q)))
      .slice(0, 8).map(u => ({ username: u.username, label: u.nickname, user: u }));
    if (owner && 'all'.startsWith(q)) list.push({ username: 'all', label: 'everyone in the room' });
    setSuggest(list.length ? { at: caret - q.length - 1, end: caret, list, index: 0 } : null);
  };
  const pick = (x: Suggestion) => {
    if (!suggest) return;
    const el = composer.current;
    const current = el?.value ?? text;
    const v = current.slice(0, suggest.at) + `@${x.username} ` + current.slice(suggest.end);
    const caret = suggest.at + x.username.length + 2;
    // the text and the caret change now, in this event: keys typed before the next render land after
    // the name (moved a frame later, the caret jumped back over what was typed meanwhile)
    if (el) {
      el.value = v;
      el.focus();
      el.setSelectionRange(caret, caret);
    }
    setText(v);
    setSuggest(null);
  };
  /** who a text mentions: members named `@username` in it, or `all` (the owner's alone) */
  const mentionsOf = (t: string) => {
    const names = new Set([ ...t.matchAll(/(?:^|\s)@([A-Za-z0-9_.-]+)/g) ].map(x => x[1].toLowerCase()));
    if (owner && names.has('all')) return [ 'all' ];
    return members.filter(u => u._id !== store.me!._id && names.has(u.username.toLowerCase())).map(u => u._id);
  };
  useEffect(() => { markRead(c); }, [ c.msgs.length ]);
  const startReply = (m: Item) => { setEditing(null); setReplying(m); composer.current?.focus(); };
  const startEdit = (m: Item) => { setReplying(null); setEditing(m); setText(m.content); composer.current?.focus(); };
  const cancel = () => { if (editing) setText(''); setEditing(null); setReplying(null); };
  const submit = () => {
    const t = text;
    if (editing) {
      if (t.trim() && t !== editing.content) void edit(editing, t);
      setEditing(null);
      setText('');
      return;
    }
    if (!t.trim()) return;
    send(c, 1, t, undefined, { replyTo: replying ?? undefined, mentions: c.typeu === TypeU.C2G ? mentionsOf(t) : undefined });
    setReplying(null);
    setText('');
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.isComposing) return;
    if (suggest) {
      const n = suggest.list.length;
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        setSuggest({ ...suggest, index: (suggest.index + (e.key === 'ArrowDown' ? 1 : n - 1)) % n });
        return;
      }
      if ((e.key === 'Enter' && !e.shiftKey) || e.key === 'Tab') {
        e.preventDefault();
        pick(suggest.list[suggest.index]);
        return;
      }
      if (e.key === 'Escape') {
        e.preventDefault();
        setSuggest(null);
        return;
      }
    }
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      submit();
    } else if (e.key === 'Escape' && (editing || replying)) {
      e.preventDefault();
      cancel();
    } else if (e.key === 'ArrowUp' && !text && !editing) {
      // as in most chat apps: arrow-up in an empty composer edits one's last text message
      const me = store.me!._id;
      const last = [ ...c.msgs ].reverse().find(m => m.from === me && m.type === 1);
      if (last) { e.preventDefault(); startEdit(last); }
    }
  };
  const attach = async (file: File) => {
    const image = file.type.startsWith('image/');
    const p = local(c, image ? 2 : 4, '');
    p.progress = 0;
    c.pending.push(p);
    store.changed();
    try {
      const up = await upload(file, f => { p.progress = f; store.changed(); });
      c.pending = c.pending.filter(x => x !== p);
      const type = up.mime.startsWith('image/') ? 2 : up.mime.startsWith('audio/') ? 3 : 4;
      send(c, type, type === 2 ? up.url : JSON.stringify({ url: up.url, filename: up.filename, size: up.size, mime: up.mime }));
    } catch (err) {
      c.pending = c.pending.filter(x => x !== p);
      report(err);
    }
    store.changed();
  };
  const items = timeline(c);
  const peer = c.typeu === TypeU.C2C ? store.users.get(c.target) : null;
  const room = c.typeu === TypeU.C2G ? store.rooms.get(c.target) : null;
  const typingNow = typingText(c);
  const inRoom = c.typeu === TypeU.C2C || store.myRooms.includes(c.target);
  const keyOf = (m: Item) => (m.fp ? `${m.from}:${m.fp}` : m._id);
  const focusItem = store.focus?.conv === c.id ? items.find(m => m._id === store.focus!.id) : undefined;
  const focus = focusItem ? { key: keyOf(focusItem), n: store.focus!.n } : null;
  const actions: MessageActions = { onReply: startReply, onEdit: startEdit };
  return (
    <section class="chat" data-testid="chat" data-conv={c.id}>
      <header class="chat-head">
        <button class="back" onClick={onBack} aria-label="Back">‹</button>
        {peer ? <span class="with-dot"><Avatar user={peer} /><Dot id={c.target} /></span> : <Avatar user={{ name: title(c) }} />}
        <div class="grow">
          <b>{title(c)}</b>
          <div class="sub">{typingNow ? <span data-testid="typing">{typingNow}</span>
            : peer ? (store.presence.get(c.target) ?? 'offline') : room ? `${room.memberCount} members` : ''}</div>
        </div>
        {c.typeu === TypeU.C2G && <button onClick={() => setInfo(!info)} data-testid="room-info-button">Members</button>}
      </header>
      {room?.notice && <div class="room-notice"><b>Notice:</b> {room.notice}</div>}
      <PinnedBar c={c} />
      <div class="chat-body">
        <div class="messages">
          {!c.noMore && c.loaded && c.msgs.length > 0 && <div class="older">{c.loadingOlder ? 'Loading…' : ''}</div>}
          {c.loaded && !items.length && <p class="empty">No messages yet. Say hello!</p>}
          <VirtualList items={items} keyOf={keyOf} resetKey={c.id} onTop={() => loadOlder(c)} focus={focus}
            render={m => <Message c={c} m={m} actions={actions} focused={m === focusItem}
              divider={!!c.dividerSeq && m.seq === c.dividerSeq && m.from !== store.me!._id} />} />
        </div>
        {info && room && inRoom && <RoomInfo room={c.target} onClose={() => setInfo(false)} />}
      </div>
      {inRoom ? (
        <footer class="composer-wrap">
          {(replying || editing) && (
            <div class="compose-context" data-testid={editing ? 'editing' : 'replying'}>
              <span class="grow">{editing ? <b>Editing message</b>
                : <><b>Replying to {userName(replying!.from)}</b> <span class="preview">{previewOf(replying)}</span></>}</span>
              <button class="link" onClick={cancel} aria-label={editing ? 'Cancel editing' : 'Cancel reply'} title="Cancel (Esc)">✕</button>
            </div>
          )}
          {suggest && (
            <ul class="suggest" role="listbox" data-testid="mention-suggest" aria-label="Mention">
              {suggest.list.map((x, i) => (
                <li key={x.username} role="option" aria-selected={i === suggest.index} class={i === suggest.index ? 'on' : ''} data-username={x.username}
                  onMouseDown={e => { e.preventDefault(); pick(x); }}>
                  {x.user ? <Avatar user={x.user} size={24} /> : <span class="avatar s24">@</span>}
                  <b>{x.label}</b> <small>@{x.username}</small>
                </li>
              ))}
            </ul>
          )}
          <div class="composer">
            <button onClick={() => fileInput.current!.click()} aria-label="Attach a file" title="Attach a file">+</button>
            <input ref={fileInput} type="file" hidden data-testid="file-input"
              onChange={e => { const f = (e.target as HTMLInputElement).files?.[0]; if (f) void attach(f); (e.target as HTMLInputElement).value = ''; }} />
            <textarea ref={composer} rows={1} placeholder="Message (Enter sends, Shift+Enter for a new line, ↑ edits your last)" value={text} data-testid="composer"
              onInput={e => {
                const el = e.target as HTMLTextAreaElement;
                setText(el.value);
                void complete(el.value, el.selectionStart);
                if (!el.value) stopTyping();
                else if (!editing) typing(c);
              }} onKeyDown={onKey} onBlur={() => setSuggest(null)} aria-autocomplete="list" />
            <button class="primary" onClick={submit}>{editing ? 'Save' : 'Send'}</button>
          </div>
        </footer>
      ) : <footer class="composer"><p class="hint">You are not in this room.</p></footer>}
    </section>
  );
}

// ---------------------------------------------------------------- shell

const CONN_TEXT = { connecting: 'connecting…', online: 'online', reconnecting: 'reconnecting…', offline: 'offline', replaced: 'signed in elsewhere' };

function StatusPicker() {
  const me = store.me!;
  const current = store.presence.get(me._id) ?? me.presence ?? 'online';
  const set = async (presence: string) => {
    if (presence === 'custom…') {
      const v = prompt('Your status (up to 32 characters)', '');
      if (!v?.trim()) return;
      presence = v.trim().slice(0, 32);
    }
    try {
      await api('PUT', '/api/users/me/presence', { presence });
      store.presence.set(me._id, presence);
      store.changed();
    } catch (err) { report(err); }
  };
  const known = [ 'online', 'away', 'busy', 'invisible' ];
  return (
    <select class="status" value={current} onChange={e => set((e.target as HTMLSelectElement).value)} aria-label="Your status" data-testid="status">
      {known.map(k => <option key={k} value={k}>{k}</option>)}
      {!known.includes(current) && <option value={current}>{current}</option>}
      <option value="custom…">custom…</option>
    </select>
  );
}

export function App() {
  const [ tab, setTab ] = useState<'chats' | 'friends' | 'rooms'>('chats');
  useNotificationClicks();
  const me = store.me;
  if (!me) return <div class="auth"><p class="empty">Loading…</p></div>;
  const active = store.active ? store.convs.get(store.active) : undefined;
  const open = (c: Conv) => { void openConv(c); };
  const chatWith = (id: string) => { open(conv(c2cId(me._id, id), TypeU.C2C, id)); setTab('chats'); };
  const openRoom = (id: string) => { open(conv(id, TypeU.C2G, id)); setTab('chats'); };
  const back = () => { store.active = null; store.changed(); };
  return (
    <div class={`app ${active ? 'has-chat' : ''}`}>
      <header class="top">
        <b class="brand">IM</b>
        <span class={`conn ${store.conn}`} data-testid="conn" data-state={store.conn}>{CONN_TEXT[store.conn]}</span>
        <span class="grow" />
        <Avatar user={me} size={28} />
        <span class="me" data-testid="me">{me.nickname || me.username}</span>
        <StatusPicker />
        <PushButton />
        <button onClick={() => { void logout(); location.hash = '#/login'; }} data-testid="logout">Log out</button>
      </header>
      {store.banner && (
        <div class="banner" role="status" data-testid="sys-notice">
          <b>Notice:</b> {store.banner.content}
          <button onClick={() => { store.banner = null; store.changed(); }} aria-label="Dismiss">✕</button>
        </div>
      )}
      {store.conn === 'replaced' && (
        <div class="overlay" data-testid="replaced">
          <div class="card">
            <h2>Signed in elsewhere</h2>
            <p>This account was opened in another browser window of the same kind, so this one was disconnected.</p>
            <button class="primary" onClick={takeOver}>Use it here instead</button>
          </div>
        </div>
      )}
      <div class="main">
        <nav class="side">
          <div class="tabs" role="tablist">
            {([ 'chats', 'friends', 'rooms' ] as const).map(t => (
              <button key={t} role="tab" aria-selected={tab === t} class={tab === t ? 'on' : ''} onClick={() => setTab(t)} data-tab={t}>
                {t[0].toUpperCase() + t.slice(1)}
                {t === 'friends' && store.requests.incoming.length > 0 && <span class="badge">{store.requests.incoming.length}</span>}
                {t === 'chats' && sortedConvs().some(c => c.unread && !c.muted && !c.archived) && <span class="badge dot-badge" />}
              </button>
            ))}
          </div>
          {tab === 'chats' && <Chats onOpen={open} />}
          {tab === 'friends' && <Friends onChat={chatWith} />}
          {tab === 'rooms' && <Rooms onOpen={openRoom} />}
        </nav>
        {active ? <ChatView c={active} onBack={back} /> : <section class="chat placeholder"><p class="empty">Pick a conversation, a friend or a room.</p></section>}
      </div>
      <div class="toasts" aria-live="polite">{store.toasts.map(t => <div key={t.id} class="toast" data-testid="toast">{t.text}</div>)}</div>
    </div>
  );
}
