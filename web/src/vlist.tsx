/**
 * A message list that keeps only what is on screen (plus a margin) in the DOM once it is long.
 * Heights are measured after render and remembered by key; unmeasured rows are estimated. Sticks to
 * the bottom while the reader is there; keeps the reader's place when older rows are prepended.
 */
import type { ComponentChildren } from 'preact';
import { useLayoutEffect, useReducer, useRef } from 'preact/hooks';

const ESTIMATE = 56;
const MARGIN = 800;
/** below this many rows everything is rendered (no measuring needed) */
const SMALL = 80;

interface Props<T> {
  items: T[];
  keyOf: (item: T) => string;
  render: (item: T, index: number) => ComponentChildren;
  onTop?: () => void;
  /** changes when the list is another conversation: scroll to its bottom */
  resetKey: string;
  /** a row to scroll into view, once per `n` */
  focus?: { key: string; n: number } | null;
}

export function VirtualList<T>({ items, keyOf, render, onTop, resetKey, focus }: Props<T>) {
  const box = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const atBottom = useRef(true);
  const anchor = useRef<{ key: string; offset: number } | null>(null);
  const lastReset = useRef('');
  const lastKey = useRef('');
  /** something new arrived below while the reader is scrolled up */
  const unseen = useRef(false);
  const focused = useRef(0);
  const [ , rerender ] = useReducer((n: number) => n + 1, 0);

  const el = box.current;
  const viewport = el?.clientHeight ?? 800;
  const small = items.length <= SMALL;

  const offsets: number[] = new Array(items.length + 1);
  offsets[0] = 0;
  for (let i = 0; i < items.length; i++) offsets[i + 1] = offsets[i] + (heights.current.get(keyOf(items[i])) ?? ESTIMATE);
  // a row to show: the window is drawn around it, and the layout effect scrolls there
  const focusAt = focus && focus.n !== focused.current ? items.findIndex(item => keyOf(item) === focus.key) : -1;
  if (focusAt >= 0) atBottom.current = false;
  const scrollTop = focusAt >= 0 ? Math.max(0, offsets[focusAt] - viewport / 3) : el?.scrollTop ?? 0;
  let first = 0;
  let last = items.length;
  if (!small && el) {
    if (atBottom.current) {
      first = items.length;
      while (first > 0 && offsets[items.length] - offsets[first - 1] < viewport + MARGIN) first--;
    } else {
      while (first < items.length && offsets[first + 1] < scrollTop - MARGIN) first++;
      last = first;
      while (last < items.length && offsets[last] < scrollTop + viewport + MARGIN) last++;
    }
  } else if (!small) {
    first = Math.max(0, items.length - 30);
  }

  // before the DOM changes: remember a row the reader sees, to keep it in place
  const firstKey = items.length ? keyOf(items[0]) : '';
  const prevFirst = useRef(firstKey);
  if (prevFirst.current !== firstKey && el && !atBottom.current) {
    const rows = el.querySelectorAll<HTMLElement>('[data-key]');
    for (const row of rows) {
      if (row.offsetTop + row.offsetHeight > el.scrollTop) {
        anchor.current = { key: row.dataset.key!, offset: row.offsetTop - el.scrollTop };
        break;
      }
    }
  }
  prevFirst.current = firstKey;
  const newestKey = items.length ? keyOf(items[items.length - 1]) : '';
  if (newestKey !== lastKey.current) {
    if (lastKey.current && !atBottom.current) unseen.current = true;
    lastKey.current = newestKey;
  }

  useLayoutEffect(() => {
    const node = box.current;
    if (!node) return;
    let grew = false;
    for (const row of node.querySelectorAll<HTMLElement>('[data-key]')) {
      const h = row.offsetHeight;
      if (heights.current.get(row.dataset.key!) !== h) { heights.current.set(row.dataset.key!, h); grew = true; }
    }
    if (lastReset.current !== resetKey) {
      lastReset.current = resetKey;
      atBottom.current = true;
      unseen.current = false;
    }
    if (anchor.current) {
      const row = node.querySelector<HTMLElement>(`[data-key="${CSS.escape(anchor.current.key)}"]`);
      if (row) node.scrollTop = row.offsetTop - anchor.current.offset;
      anchor.current = null;
    } else if (atBottom.current) {
      node.scrollTop = node.scrollHeight;
    }
    if (focusAt >= 0 && focus) {
      focused.current = focus.n;
      const row = node.querySelector<HTMLElement>(`[data-key="${CSS.escape(focus.key)}"]`);
      if (row) node.scrollTop = Math.max(0, row.offsetTop - node.clientHeight / 3);
      atBottom.current = node.scrollHeight - node.scrollTop - node.clientHeight < 40;
    }
    if (grew && !small) rerender(0);
  });

  const onScroll = () => {
    const node = box.current!;
    atBottom.current = node.scrollHeight - node.scrollTop - node.clientHeight < 40;
    if (atBottom.current) unseen.current = false;
    if (node.scrollTop < 200 && onTop) onTop();
    if (!small) rerender(0);
  };

  const toNewest = () => {
    atBottom.current = true;
    unseen.current = false;
    rerender(0);
  };

  return (
    <div class="vlist-wrap">
      <div class="vlist" ref={box} onScroll={onScroll} data-rendered={last - first} data-total={items.length}>
        {first > 0 && <div class="spacer" style={{ height: `${offsets[first]}px` }} />}
        {items.slice(first, last).map((item, i) => <div key={keyOf(item)} data-key={keyOf(item)}>{render(item, first + i)}</div>)}
        {last < items.length && <div class="spacer" style={{ height: `${offsets[items.length] - offsets[last]}px` }} />}
      </div>
      {unseen.current && <button class="to-newest" onClick={toNewest} data-testid="to-newest">New messages below ↓</button>}
    </div>
  );
}
