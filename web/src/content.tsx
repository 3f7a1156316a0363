/**
 * Message content is always text: Preact puts strings into text nodes, never HTML. Links become
 * anchors only for http(s) URLs; images, audio and file links only for files on our own /files/.
 */
import type { Item } from './chat';

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]}]/gi;
const OWN_FILE = /^\/files\/[0-9a-f]{32}$/;

/** `/files/<id>` when the text names one of our files (relative, or absolute on our origin), else null. */
export function ownFile(text: string): string | null {
  try {
    const url = new URL(text, location.origin);
    return url.origin === location.origin && OWN_FILE.test(url.pathname) && !url.search && !url.hash ? url.pathname : null;
  } catch {
    return null;
  }
}

/** A file message's content: the upload URL, or a JSON string describing it (PROTOCOL §6). */
export function fileOf(content: string): { url: string; filename: string } | null {
  let url = content;
  let filename = 'file';
  if (content.startsWith('{')) {
    try {
      const o = JSON.parse(content) as { url?: unknown; filename?: unknown };
      url = typeof o.url === 'string' ? o.url : '';
      if (typeof o.filename === 'string') filename = o.filename;
    } catch {
      return null;
    }
  }
  const own = ownFile(url);
  return own ? { url: own, filename } : null;
}

export function Linkified({ text }: { text: string }) {
  const parts: Array<string | preact.JSX.Element> = [];
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    const at = match.index!;
    let href: string | null = null;
    try {
      const u = new URL(match[0]);
      if (u.protocol === 'http:' || u.protocol === 'https:') href = u.href;
    } catch { /* not a URL after all: stays text */ }
    if (!href) continue;
    if (at > last) parts.push(text.slice(last, at));
    parts.push(<a href={href} target="_blank" rel="noopener noreferrer nofollow ugc">{match[0]}</a>);
    last = at + match[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return <>{parts}</>;
}

/** Names (usernames, or `all`) a message mentions, and which of them mean the reader. */
export interface Mentioned { names: string[]; mine: string[] }

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Text with its `@name` mentions marked (those meaning the reader more so), the rest linkified. */
function WithMentions({ text, mentioned }: { text: string; mentioned: Mentioned }) {
  const names = mentioned.names.filter(Boolean);
  if (!names.length) return <Linkified text={text} />;
  const re = new RegExp(`@(${names.map(escapeRe).join('|')})(?![\\w.-])`, 'gi');
  const mine = mentioned.mine.map(n => n.toLowerCase());
  const parts: Array<string | preact.JSX.Element> = [];
  let last = 0;
  for (const match of text.matchAll(re)) {
    const at = match.index!;
    if (at > last) parts.push(<Linkified text={text.slice(last, at)} />);
    const me = mine.includes(match[1].toLowerCase());
    parts.push(<span class={`mention${me ? ' me' : ''}`} data-testid="mention">{match[0]}</span>);
    last = at + match[0].length;
  }
  if (last < text.length) parts.push(<Linkified text={text.slice(last)} />);
  return <>{parts}</>;
}

export function Content({ m, mentioned }: { m: Item; mentioned?: Mentioned }) {
  if (m.type === 10 || m.type === 21) return <em class="recalled">message recalled</em>;
  if (m.type === 2 || m.type === 3 || m.type === 4) {
    const f = fileOf(m.content);
    if (f && m.type === 2) return <a href={f.url} target="_blank" rel="noopener"><img class="inline-img" src={f.url} alt="image" loading="lazy" /></a>;
    if (f && m.type === 3) return <audio controls preload="none" src={f.url} />;
    if (f) return <a class="file" href={f.url} download={f.filename}>File: {f.filename}</a>;
  }
  return <span class="text">{mentioned ? <WithMentions text={m.content} mentioned={mentioned} /> : <Linkified text={m.content} />}</span>;
}
