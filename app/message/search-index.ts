/**
 * The search index of a message and the matching of a query (PROTOCOL §8 search), pure functions.
 *
 * A text message is split into words and runs of Chinese, Japanese or Korean characters:
 *
 * - a **word** is a run of letters, digits and marks of any other script, folded for comparison
 *   (lower case, compatibility forms, accents removed: "Café" → "cafe"); its index term is the folded
 *   word;
 * - a **CJK run** has no spaces between words, so its terms are its character bigrams ("你好吗" →
 *   "你好", "好吗") and its last character alone ("吗"): every character starts some term, so a
 *   query of one character is a prefix look-up, and a query run of two or more is the AND of its
 *   bigrams (then checked for contiguity here).
 *
 * The terms go in an indexed array field of the message (`terms`, a multikey index on MongoDB). A
 * query is the AND of its words; the last word is a prefix (`^word` on the terms: an index range).
 * `match()` then confirms a candidate (bigrams may all be present without the run) and says where
 * it matched, as UTF-16 offsets into the content.
 */

/** Han, kana and Hangul, with the prolonged sound mark and the iteration mark that live among them */
const CJK = String.raw`\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}\u30fc\u3005`;
const TOKEN = new RegExp(String.raw`([${CJK}]+)|([[\p{L}\p{N}\p{M}]--[${CJK}]]+)`, 'gv');
const MARKS = /\p{M}/gu;
/** longer words are indexed (and compared) by their first 64 characters */
const WORD_MAX = 64;

interface CjkChar { c: string; start: number; end: number }
type Token =
  | { kind: 'word'; norm: string; start: number; end: number }
  | { kind: 'cjk'; chars: CjkChar[]; start: number; end: number };

/** A word as it is compared: lower case, compatibility forms decomposed, accents and other marks gone. */
export function foldWord(word: string): string {
  const folded = word.toLowerCase().normalize('NFKD').replace(MARKS, '');
  return folded.length > WORD_MAX ? [ ...folded ].slice(0, WORD_MAX).join('') : folded;
}

function* tokens(text: string): Generator<Token> {
  for (const m of text.matchAll(TOKEN)) {
    const start = m.index!;
    const end = start + m[0].length;
    if (m[1]) {
      const chars: CjkChar[] = [];
      let at = start;
      // half-width kana become full-width; NFKC, not NFKD: Hangul syllables and voiced kana stay whole
      for (const ch of m[1]) {
        chars.push({ c: ch.normalize('NFKC'), start: at, end: at + ch.length });
        at += ch.length;
      }
      yield { kind: 'cjk', chars, start, end };
    } else {
      const norm = foldWord(m[0]);
      if (norm) yield { kind: 'word', norm, start, end };
    }
  }
}

/** The index terms of a text message: its first `maxChars` characters, at most `maxTerms` distinct terms. */
export function indexTerms(content: string, opts: { maxChars: number; maxTerms: number }): string[] {
  const text = content.length > opts.maxChars ? content.slice(0, opts.maxChars) : content;
  const terms = new Set<string>();
  for (const t of tokens(text)) {
    if (t.kind === 'word') terms.add(t.norm);
    else {
      const cs = t.chars;
      for (let i = 0; i + 1 < cs.length; i++) terms.add(cs[i].c + cs[i + 1].c);
      terms.add(cs[cs.length - 1].c);
    }
    if (terms.size >= opts.maxTerms) break;
  }
  return [ ...terms ].slice(0, opts.maxTerms);
}

/** A parsed query: whole words, the last word as a prefix, and CJK runs (as their characters). */
export interface SearchQuery {
  words: string[];
  prefix?: string;
  runs: string[][];
}

export function parseQuery(q: string): SearchQuery {
  const all = [ ...tokens(q) ];
  const query: SearchQuery = { words: [], runs: [] };
  all.forEach((t, i) => {
    if (t.kind === 'cjk') query.runs.push(t.chars.map(c => c.c));
    else if (i === all.length - 1) query.prefix = t.norm;
    else query.words.push(t.norm);
  });
  query.words = [ ...new Set(query.words) ];
  return query;
}

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');

/**
 * What the store must find: every exact term (words, bigrams of CJK runs) and every prefix (the last
 * word, single CJK characters) among the message's terms. Null when the query has nothing to look for.
 */
export function storeTerms(query: SearchQuery): { all: string[]; prefixes: string[] } | null {
  const all = new Set(query.words);
  const prefixes = new Set<string>();
  for (const run of query.runs) {
    if (run.length === 1) prefixes.add(`^${escapeRegex(run[0])}`);
    for (let i = 0; i + 1 < run.length; i++) all.add(run[i] + run[i + 1]);
  }
  if (query.prefix !== undefined) prefixes.add(`^${escapeRegex(query.prefix)}`);
  if (!all.size && !prefixes.size) return null;
  return { all: [ ...all ], prefixes: [ ...prefixes ] };
}

/**
 * Where `query` matches `content` (UTF-16 `[start, end)` pairs, sorted and merged), or null when some
 * part of it does not: every word whole, the prefix at the start of a word (the whole word is
 * highlighted), every CJK run contiguous.
 */
export function match(content: string, query: SearchQuery): Array<[number, number]> | null {
  const toks = [ ...tokens(content) ];
  const words = toks.filter((t): t is Extract<Token, { kind: 'word' }> => t.kind === 'word');
  const runs = toks.filter((t): t is Extract<Token, { kind: 'cjk' }> => t.kind === 'cjk');
  const spans: Array<[number, number]> = [];
  const take = (found: Array<[number, number]>) => {
    if (!found.length) return false;
    spans.push(...found);
    return true;
  };
  for (const w of query.words) {
    if (!take(words.filter(t => t.norm === w).map(t => [ t.start, t.end ]))) return null;
  }
  if (query.prefix !== undefined) {
    const p = query.prefix;
    if (!take(words.filter(t => t.norm.startsWith(p)).map(t => [ t.start, t.end ]))) return null;
  }
  for (const run of query.runs) {
    const found: Array<[number, number]> = [];
    for (const t of runs) {
      for (let i = 0; i + run.length <= t.chars.length; i++) {
        if (run.every((c, k) => t.chars[i + k].c === c)) found.push([ t.chars[i].start, t.chars[i + run.length - 1].end ]);
      }
    }
    if (!take(found)) return null;
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: Array<[number, number]> = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s[0] <= last[1]) last[1] = Math.max(last[1], s[1]);
    else merged.push([ s[0], s[1] ]);
  }
  return merged;
}
