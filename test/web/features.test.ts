/**
 * The message features of PROTOCOL §8 in the web client, in a real browser (Debian's chromium through
 * playwright-core) against the app on an ephemeral port and the real embedded database. Three isolated
 * browser contexts are three people: Alice and Bob are friends, and all three are in Alice's room.
 * They sign up through the API (the sign-up page has its own test in client.test.ts) and open the app
 * with their session. The steps build on each other, so they run in order. Screenshots go to
 * test/web/screenshots/ (not committed).
 */
import assert from 'node:assert';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { launchChromium } from './browser';
import { api, baseUrl, connectOk, emitAck, signup, sleep, type TestUser } from '../helpers';
import { befriend } from '../social-helpers';

const SHOTS = path.join(__dirname, 'screenshots');
const WAIT = 10000;

interface Person { user: TestUser; nickname: string; page: Page; context: BrowserContext; problems: string[] }

describe('web client: message features (§8)', function() {
  this.timeout(60000);
  let url: string;
  let browser: Browser;
  const people: Person[] = [];
  let alice: Person;
  let bob: Person;
  let carol: Person;
  let roomId: string;
  let roomName: string;

  async function person(nickname: string): Promise<Person> {
    const user = await signup({ nickname });
    const context = await browser.newContext({ viewport: { width: 1180, height: 760 } });
    const p: Person = { user, nickname, context, page: await context.newPage(), problems: [] };
    p.page.setDefaultTimeout(WAIT);
    p.page.on('console', msg => { if (msg.type() === 'error') p.problems.push(`console: ${msg.text()}`); });
    p.page.on('pageerror', err => p.problems.push(`page error: ${err.message}`));
    people.push(p);
    return p;
  }

  /** Opens the app signed in as `p` (the session the API gave, as the login page would store it). */
  async function open(p: Person) {
    await p.page.goto(`${url}/#/login`);
    // the page reads the session when it loads: stored here, then loaded again
    await p.page.evaluate(u => localStorage.setItem('im.session', JSON.stringify({ token: u.token, refreshToken: u.refreshToken, exp: Date.now() + 3_600_000, device: 'WEB' })), p.user);
    await p.page.goto('about:blank');
    await p.page.goto(`${url}/#/`);
    await p.page.waitForSelector('[data-testid=conn][data-state=online]');
  }

  const shot = (p: Person, name: string) => p.page.screenshot({ path: path.join(SHOTS, `${name}.png`) });

  async function sendText(p: Person, text: string) {
    await p.page.fill('[data-testid=composer]', text);
    await p.page.press('[data-testid=composer]', 'Enter');
  }

  /** The bubble of the newest message with this text (its own, not a quote's), on one person's screen. */
  const bubble = (p: Person, text: string): Locator => p.page.locator('.msg', { has: p.page.locator('.text', { hasText: text }) }).last();
  const convRow = (p: Person, id: string) => p.page.locator(`[data-testid=conversations] li[data-conv="${id}"]`);
  const c2c = (a: Person, b: Person) => (a.user.id < b.user.id ? `${a.user.id}@${b.user.id}` : `${b.user.id}@${a.user.id}`);

  async function openChat(p: Person, id: string) {
    await p.page.click('[data-tab=chats]');
    // search results stand in for the list until cleared
    if (await p.page.locator('[data-testid=search-hits]').count()) await p.page.click('button[aria-label="Clear the search"]');
    await convRow(p, id).click();
    await p.page.waitForSelector(`[data-testid=chat][data-conv="${id}"]`);
  }

  /** Opens a message's menu (⋯) and clicks one of its items. */
  async function menu(message: Locator, item: string) {
    await message.locator('summary').click();
    await message.locator('.menu-items').getByRole('button', { name: item, exact: true }).click();
  }

  /** Whether the element is inside the message list's visible area. */
  const inView = (l: Locator) => l.evaluate(el => {
    const box = el.getBoundingClientRect();
    const list = el.closest('.vlist')!.getBoundingClientRect();
    return box.bottom > list.top && box.top < list.bottom;
  });

  before(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    url = await baseUrl();
    browser = await launchChromium();
    alice = await person('Alice');
    bob = await person('Bob');
    carol = await person('Carol');
    await befriend(alice.user, bob.user);
    roomName = `feat-${Date.now().toString(36)}`;
    const room = await api('POST', '/api/rooms', { token: alice.user.token, body: { name: roomName, visibility: 'private' } });
    assert.strictEqual(room.status, 201, JSON.stringify(room.body));
    roomId = room.body.data._id;
    const added = await api('POST', `/api/rooms/${roomId}/members`, { token: alice.user.token, body: { add: [ bob.user.id, carol.user.id ] } });
    assert.strictEqual(added.status, 200, JSON.stringify(added.body));
    await open(alice);
    await open(carol);
    console.log(`      screenshots: ${SHOTS}`);
  });

  after(async () => {
    await browser?.close();
  });

  it('ticks a message ✓ sent while the peer is offline, ✓✓ delivered when their device acks it, read when they open it', async () => {
    // Bob has never opened the app: Alice's message is stored, not delivered
    await alice.page.click('[data-tab=friends]');
    await alice.page.click(`[data-friend="${bob.user.username}"] button[title=Chat]`);
    await sendText(alice, 'Are you there, Bob?');
    const mine = bubble(alice, 'Are you there, Bob?');
    await mine.locator('[data-status=sent]').waitFor();
    await shot(alice, 'f01-tick-sent');
    // Bob opens the app but not the conversation: his device pulls and acks it
    await open(bob);
    await mine.locator('[data-status=delivered]').waitFor();
    await shot(alice, 'f02-tick-delivered');
    await openChat(bob, c2c(alice, bob));
    await mine.locator('[data-status=read]').waitFor();
    await shot(alice, 'f03-tick-read');
  });

  it('shows ✓✓ delivered from history after a reload', async () => {
    await bob.page.goto('about:blank');
    await sendText(alice, 'Delivered later');
    await bubble(alice, 'Delivered later').locator('[data-status=sent]').waitFor();
    await open(bob);
    await bubble(alice, 'Delivered later').locator('[data-status=delivered]').waitFor();
    // a fresh page knows it from `delivered` in the history, not from a live tick
    await alice.page.reload();
    await alice.page.waitForSelector('[data-testid=conn][data-state=online]');
    await openChat(alice, c2c(alice, bob));
    await bubble(alice, 'Delivered later').locator('[data-status=delivered]').waitFor();
  });

  it('replies to a message: the quote above the composer, then above the sent message on both screens', async () => {
    await openChat(bob, c2c(alice, bob));
    await menu(bubble(bob, 'Are you there, Bob?'), 'Reply');
    await bob.page.locator('[data-testid=replying]', { hasText: 'Replying to Alice' }).waitFor();
    await bob.page.fill('[data-testid=composer]', 'Yes, here!');
    await shot(bob, 'f04-reply-composing');
    await bob.page.press('[data-testid=composer]', 'Enter');
    await bob.page.waitForSelector('[data-testid=replying]', { state: 'detached' });
    await bubble(bob, 'Yes, here!').locator('[data-testid=quote]', { hasText: 'Are you there, Bob?' }).waitFor();
    await bubble(alice, 'Yes, here!').locator('[data-testid=quote]', { hasText: 'Bob' }).waitFor();
    assert.match(await bubble(alice, 'Yes, here!').locator('[data-testid=quote]').textContent() ?? '', /You\s*Are you there, Bob\?/);
    await shot(alice, 'f05-reply-shown');
  });

  it('cancels a reply with Escape', async () => {
    await menu(bubble(bob, 'Delivered later'), 'Reply');
    await bob.page.locator('[data-testid=replying]').waitFor();
    await bob.page.press('[data-testid=composer]', 'Escape');
    await bob.page.waitForSelector('[data-testid=replying]', { state: 'detached' });
    await sendText(bob, 'no quote on this one');
    await bubble(bob, 'no quote on this one').locator('[data-status]').and(bob.page.locator('[data-status=sent], [data-status=delivered], [data-status=read]')).waitFor();
    assert.strictEqual(await bubble(bob, 'no quote on this one').locator('[data-testid=quote]').count(), 0);
  });

  it('edits the last own message with arrow-up and Enter; both screens show "edited"', async () => {
    await alice.page.fill('[data-testid=composer]', '');
    await alice.page.press('[data-testid=composer]', 'ArrowUp');
    await alice.page.locator('[data-testid=editing]').waitFor();
    assert.strictEqual(await alice.page.inputValue('[data-testid=composer]'), 'Delivered later');
    await alice.page.fill('[data-testid=composer]', 'Delivered later, and now edited');
    await shot(alice, 'f06-editing');
    await alice.page.press('[data-testid=composer]', 'Enter');
    await bubble(alice, 'Delivered later, and now edited').locator('[data-testid=edited]').waitFor();
    await bubble(bob, 'Delivered later, and now edited').locator('[data-testid=edited]').waitFor();
    assert.strictEqual(await alice.page.inputValue('[data-testid=composer]'), '');
    await shot(bob, 'f07-edited-live');
  });

  it('cancels an edit with Escape and leaves the message as it was', async () => {
    await bob.page.fill('[data-testid=composer]', '');
    await bob.page.press('[data-testid=composer]', 'ArrowUp');
    await bob.page.locator('[data-testid=editing]').waitFor();
    assert.strictEqual(await bob.page.inputValue('[data-testid=composer]'), 'no quote on this one');
    await bob.page.fill('[data-testid=composer]', 'this change is dropped');
    await bob.page.press('[data-testid=composer]', 'Escape');
    await bob.page.waitForSelector('[data-testid=editing]', { state: 'detached' });
    assert.strictEqual(await bob.page.inputValue('[data-testid=composer]'), '');
    assert.strictEqual(await bubble(bob, 'no quote on this one').locator('[data-testid=edited]').count(), 0);
    assert.strictEqual(await bob.page.locator('.msg', { hasText: 'this change is dropped' }).count(), 0);
  });

  it('reacts from the picker; the other sees the count and who reacted, and toggles their own', async () => {
    const target = 'Are you there, Bob?';
    await bubble(bob, target).locator('summary').click();
    await bubble(bob, target).locator('.picker button[data-emoji="👍"]').click();
    const chip = bubble(alice, target).locator('.reaction[data-emoji="👍"]');
    await chip.locator('.count', { hasText: '1' }).waitFor();
    assert.strictEqual(await chip.getAttribute('title'), 'Bob');
    await chip.click();
    await chip.locator('.count', { hasText: '2' }).waitFor();
    assert.strictEqual(await chip.getAttribute('aria-pressed'), 'true');
    const bobChip = bubble(bob, target).locator('.reaction[data-emoji="👍"]');
    await bobChip.locator('.count', { hasText: '2' }).waitFor();
    assert.strictEqual(await bobChip.getAttribute('title'), 'You, Alice');
    await bubble(alice, target).locator('summary').click();
    await bubble(alice, target).locator('.picker button[data-emoji="🎉"]').click();
    await bubble(bob, target).locator('.reaction[data-emoji="🎉"] .count', { hasText: '1' }).waitFor();
    await bobChip.hover();
    await shot(bob, 'f08-reactions');
    // Alice takes her 👍 back
    await chip.click();
    await bobChip.locator('.count', { hasText: '1' }).waitFor();
    assert.strictEqual(await chip.getAttribute('aria-pressed'), 'false');
  });

  it('pins messages: the pinned bar on both screens, newest pin first, each jumping to its message; unpin', async () => {
    await menu(bubble(alice, 'Yes, here!'), 'Pin');
    await bob.page.locator('[data-testid=pinned-bar] .pinned-first', { hasText: 'Yes, here!' }).waitFor();
    await bubble(bob, 'Yes, here!').locator('[data-testid=pinned-mark]').waitFor();
    await menu(bubble(bob, 'Are you there, Bob?'), 'Pin');
    await alice.page.locator('[data-testid=pinned-bar] .pinned-first', { hasText: 'Are you there, Bob?' }).waitFor();
    await alice.page.click('[data-testid=pins-all]');
    const entries = alice.page.locator('[data-testid=pinned-bar] .menu-items button');
    assert.deepStrictEqual(await entries.allTextContents(), [ 'You: Are you there, Bob?', 'Bob: Yes, here!' ]);
    await shot(alice, 'f09-pinned-list');
    await entries.nth(1).click();
    await alice.page.locator('.msg.focused .text', { hasText: 'Yes, here!' }).waitFor();
    await menu(bubble(alice, 'Are you there, Bob?'), 'Unpin');
    await bob.page.locator('[data-testid=pinned-bar] .pinned-first', { hasText: 'Yes, here!' }).waitFor();
    assert.strictEqual(await bob.page.locator('[data-testid=pins-all]').count(), 0);
  });

  it('jumps from a quote to its original, loading older history first', async function() {
    this.timeout(90000);
    const alicePhone = await connectOk({ token: alice.user.token, query: { deviceType: 'MOBILE' } });
    try {
      const original = (await emitAck(alicePhone, 'to', { type: 1, to: bob.user.id, content: 'the original, far back', fp: `far-${Date.now()}` }, 10000)).data.payload;
      // more than one page of history after it, sent in batches under the socket's event limit
      for (let i = 0; i < 60; i += 20) {
        const acks = await Promise.all(Array.from({ length: 20 }, (_, k) => emitAck(alicePhone, 'to',
          { type: 1, to: bob.user.id, content: `filler ${i + k}`, fp: `filler-${Date.now()}-${i + k}` }, 10000)));
        assert.deepStrictEqual(acks.filter(a => a.code !== 0), []);
        await sleep(300);
      }
      const bobPhone = await connectOk({ token: bob.user.token, query: { deviceType: 'MOBILE' } });
      const reply = await emitAck(bobPhone, 'to', { type: 1, to: alice.user.id, content: 'answering the old one', fp: `ans-${Date.now()}`, replyTo: original._id }, 10000);
      assert.strictEqual(reply.code, 0, JSON.stringify(reply));
      bobPhone.close();
    } finally {
      alicePhone.close();
    }
    await alice.page.reload();
    await alice.page.waitForSelector('[data-testid=conn][data-state=online]');
    await openChat(alice, c2c(alice, bob));
    const quote = bubble(alice, 'answering the old one').locator('[data-testid=quote]', { hasText: 'the original, far back' });
    await quote.waitFor();
    assert.strictEqual(await alice.page.locator('.msg .text', { hasText: 'the original, far back' }).count(), 0, 'not loaded yet');
    await quote.click();
    const shown = alice.page.locator('.msg.focused .text', { hasText: 'the original, far back' });
    await shown.waitFor();
    await alice.page.waitForFunction(() => {
      const el = document.querySelector('.msg.focused');
      const list = el?.closest('.vlist')?.getBoundingClientRect();
      const box = el?.getBoundingClientRect();
      return !!box && !!list && box.bottom > list.top && box.top < list.bottom;
    });
    assert.ok(await inView(shown));
    await shot(alice, 'f10-quote-jump');
  });

  async function openRoom(p: Person) {
    await p.page.click('[data-tab=rooms]');
    await p.page.click(`[data-testid=rooms] li[data-room="${roomName}"]`);
    await p.page.waitForSelector(`[data-testid=chat][data-conv="${roomId}"]`);
  }

  it('completes @ with room members by keyboard; the mention is marked and badged for the one mentioned', async () => {
    await openRoom(carol);
    await carol.page.type('[data-testid=composer]', 'Hello @');
    const suggest = carol.page.locator('[data-testid=mention-suggest]');
    await suggest.locator(`li[data-username="${bob.user.username}"]`).waitFor();
    assert.deepStrictEqual((await suggest.locator('li').evaluateAll(els => els.map(el => el.getAttribute('data-username')))).sort(),
      [ alice.user.username, bob.user.username ].sort(), 'the other members, not oneself, no "all" for a member');
    for (let i = 0; i < 2 && await suggest.locator('li[aria-selected=true]').getAttribute('data-username') !== bob.user.username; i++) {
      await carol.page.press('[data-testid=composer]', 'ArrowDown');
    }
    await shot(carol, 'f11-mention-completion');
    await carol.page.press('[data-testid=composer]', 'Enter');
    await suggest.waitFor({ state: 'detached' });
    assert.strictEqual(await carol.page.inputValue('[data-testid=composer]'), `Hello @${bob.user.username} `);
    await carol.page.type('[data-testid=composer]', 'look at this');
    await carol.page.press('[data-testid=composer]', 'Enter');
    await bubble(carol, 'look at this').locator('[data-testid=mention]').waitFor();
    // Bob is elsewhere: the room shows an unread mention
    await bob.page.click('[data-tab=chats]');
    await convRow(bob, roomId).locator('[data-testid=mention-badge]').waitFor();
    await shot(bob, 'f12-mention-badge');
    await convRow(bob, roomId).click();
    await bubble(bob, 'look at this').locator('.mention.me').waitFor();
    assert.strictEqual(await convRow(bob, roomId).locator('[data-testid=mention-badge]').count(), 0);
    await shot(bob, 'f13-mention-highlight');
  });

  it('closes the completion with Escape and picks with Tab', async () => {
    await carol.page.type('[data-testid=composer]', '@');
    const suggest = carol.page.locator('[data-testid=mention-suggest]');
    await suggest.waitFor();
    await carol.page.press('[data-testid=composer]', 'Escape');
    await suggest.waitFor({ state: 'detached' });
    assert.strictEqual(await carol.page.inputValue('[data-testid=composer]'), '@');
    await carol.page.type('[data-testid=composer]', 'Ali');
    await suggest.locator(`li[data-username="${alice.user.username}"]`).waitFor();
    await carol.page.press('[data-testid=composer]', 'Tab');
    await suggest.waitFor({ state: 'detached' });
    assert.strictEqual(await carol.page.inputValue('[data-testid=composer]'), `@${alice.user.username} `);
    await carol.page.fill('[data-testid=composer]', '');
  });

  it('offers @all to the room owner only, and @all marks the message for every member', async () => {
    await carol.page.type('[data-testid=composer]', '@al');
    const carolSuggest = carol.page.locator('[data-testid=mention-suggest]');
    await carolSuggest.locator(`li[data-username="${alice.user.username}"]`).waitFor();
    assert.strictEqual(await carolSuggest.locator('li[data-username=all]').count(), 0);
    await carol.page.press('[data-testid=composer]', 'Escape');
    await carol.page.fill('[data-testid=composer]', '');
    await openRoom(alice);
    await alice.page.type('[data-testid=composer]', '@al');
    const all = alice.page.locator('[data-testid=mention-suggest] li[data-username=all]');
    await all.waitFor();
    for (let i = 0; i < 3 && await all.getAttribute('aria-selected') !== 'true'; i++) await alice.page.press('[data-testid=composer]', 'ArrowDown');
    await alice.page.press('[data-testid=composer]', 'Enter');
    await alice.page.type('[data-testid=composer]', 'standup in five minutes');
    await alice.page.press('[data-testid=composer]', 'Enter');
    await bubble(carol, 'standup in five minutes').locator('.mention.me', { hasText: '@all' }).waitFor();
    await bubble(bob, 'standup in five minutes').locator('.mention.me', { hasText: '@all' }).waitFor();
  });

  it('shows who is typing in a room', async () => {
    await bob.page.type('[data-testid=composer]', 'I am wri');
    await alice.page.locator('[data-testid=typing]', { hasText: 'Bob is typing…' }).waitFor();
    await carol.page.type('[data-testid=composer]', 'me t');
    await alice.page.locator('[data-testid=typing]', { hasText: /^(Bob and Carol|Carol and Bob) are typing…$/ }).waitFor();
    await shot(alice, 'f14-room-typing');
    await bob.page.fill('[data-testid=composer]', '');
    await carol.page.fill('[data-testid=composer]', '');
  });

  it('offers Pin in a room to its owner only', async () => {
    const message = bubble(carol, 'standup in five minutes');
    await message.locator('summary').click();
    await message.locator('.menu-items').getByRole('button', { name: 'Reply', exact: true }).waitFor();
    assert.strictEqual(await message.locator('.menu-items').getByRole('button', { name: 'Pin', exact: true }).count(), 0);
    await message.locator('summary').click();
    await menu(bubble(alice, 'look at this'), 'Pin');
    await carol.page.locator('[data-testid=pinned-bar] .pinned-first', { hasText: 'look at this' }).waitFor();
  });

  /** Opens a conversation row's menu (⋯) and clicks one of its items. */
  async function rowMenu(row: Locator, item: string) {
    await row.locator('summary').click();
    await row.locator('.menu-items').getByRole('button', { name: item, exact: true }).click();
  }

  it('pins a conversation to the top of the list, still there after a reload', async () => {
    await bob.page.click('[data-tab=chats]');
    const first = bob.page.locator('[data-testid=conversations] > li').first();
    assert.strictEqual(await first.getAttribute('data-conv'), roomId, 'the room is the most recent');
    await rowMenu(convRow(bob, c2c(alice, bob)), 'Pin to top');
    await convRow(bob, c2c(alice, bob)).locator('[data-testid=pinned-flag]').waitFor();
    assert.strictEqual(await first.getAttribute('data-conv'), c2c(alice, bob));
    await shot(bob, 'f15-conversation-pinned');
    await bob.page.reload();
    await bob.page.waitForSelector('[data-testid=conn][data-state=online]');
    await convRow(bob, c2c(alice, bob)).locator('[data-testid=pinned-flag]').waitFor();
    assert.strictEqual(await first.getAttribute('data-conv'), c2c(alice, bob));
  });

  it('shows a conversation muted on another device of the same person at once (conversation_update)', async () => {
    const login = await api('POST', '/api/login', { body: { username: bob.user.username, password: bob.user.password } });
    assert.strictEqual(login.status, 200, JSON.stringify(login.body));
    const res = await api('PATCH', `/api/conversations/${roomId}?typeu=2`, { token: login.body.data.token, body: { muted: true } });
    assert.strictEqual(res.status, 200, JSON.stringify(res.body));
    await convRow(bob, roomId).locator('[data-testid=muted-flag]').waitFor();
    assert.strictEqual(await convRow(bob, roomId).getAttribute('data-muted'), 'true');
  });

  it('archives a conversation into its own section, and a new message brings it back', async () => {
    await rowMenu(convRow(bob, c2c(alice, bob)), 'Archive');
    await convRow(bob, c2c(alice, bob)).waitFor({ state: 'detached' });
    await bob.page.click('[data-testid=archived] summary');
    const archived = bob.page.locator(`[data-testid=archived-conversations] li[data-conv="${c2c(alice, bob)}"]`);
    await archived.waitFor();
    await shot(bob, 'f16-archived');
    await openChat(alice, c2c(alice, bob));
    await sendText(alice, 'anything new?');
    await convRow(bob, c2c(alice, bob)).locator('.preview', { hasText: 'anything new?' }).waitFor();
    assert.strictEqual(await archived.count(), 0);
  });

  it('finds messages with the matches highlighted, and opens the conversation at the one picked', async () => {
    await alice.page.reload();
    await alice.page.waitForSelector('[data-testid=conn][data-state=online]');
    await alice.page.fill('input[name=search]', 'original far');
    await alice.page.press('input[name=search]', 'Enter');
    const hit = alice.page.locator('[data-testid=search-hits] li', { hasText: 'the original, far back' });
    await hit.waitFor();
    assert.deepStrictEqual(await hit.locator('mark').allTextContents(), [ 'original', 'far' ]);
    await shot(alice, 'f17-search-results');
    await hit.locator('button').click();
    await alice.page.waitForSelector(`[data-testid=chat][data-conv="${c2c(alice, bob)}"]`);
    const shown = alice.page.locator('.msg.focused .text', { hasText: 'the original, far back' });
    await shown.waitFor();
    await alice.page.waitForFunction(() => {
      const el = document.querySelector('.msg.focused');
      const list = el?.closest('.vlist')?.getBoundingClientRect();
      const box = el?.getBoundingClientRect();
      return !!box && !!list && box.bottom > list.top && box.top < list.bottom;
    });
    await shot(alice, 'f18-search-opened');
  });

  it('finds Chinese text by a run of its characters; Escape clears the search', async () => {
    await sendText(carol, '我们明天上午十点开会');
    await bubble(carol, '我们明天上午十点开会').locator('[data-status]').and(carol.page.locator('[data-status=sent], [data-status=delivered], [data-status=read]')).waitFor();
    await bob.page.fill('input[name=search]', '明天');
    await bob.page.press('input[name=search]', 'Enter');
    const hit = bob.page.locator('[data-testid=search-hits] li', { hasText: '开会' });
    await hit.waitFor();
    assert.deepStrictEqual(await hit.locator('mark').allTextContents(), [ '明天' ]);
    await shot(bob, 'f19-search-cjk');
    await bob.page.press('input[name=search]', 'Escape');
    await bob.page.waitForSelector('[data-testid=search-hits]', { state: 'detached' });
    await bob.page.waitForSelector('[data-testid=conversations]');
  });

  it('after being offline, applies what changed meanwhile (sync_changes): edits, reactions, recalls, hides', async function() {
    this.timeout(90000);
    // Bob's page talks to the server through a relay that can go offline (websocket and polling alike)
    let offline = false;
    const lines: Array<{ close(): Promise<void> }> = [];
    await bob.page.route(/\/ws\//, route => (offline ? route.abort('internetdisconnected') : route.continue()));
    await bob.page.routeWebSocket(/\/ws\//, ws => {
      if (offline) { void ws.close(); return; }
      ws.connectToServer();
      lines.push(ws);
    });
    await bob.page.reload();
    await bob.page.waitForSelector('[data-testid=conn][data-state=online]');
    // the conversation with Alice is loaded, then Bob looks at the room
    await openChat(alice, c2c(alice, bob));
    await sendText(alice, 'this one will be recalled');
    await openChat(bob, c2c(alice, bob));
    await bubble(bob, 'this one will be recalled').waitFor();
    await bubble(bob, 'answering the old one').waitFor();
    await bubble(bob, 'filler 59').waitFor();
    await convRow(bob, roomId).click();
    await bob.page.waitForSelector(`[data-testid=chat][data-conv="${roomId}"]`);

    offline = true;
    await Promise.all(lines.splice(0).map(l => l.close()));
    await bob.page.waitForSelector('[data-testid=conn][data-state=reconnecting]');
    // meanwhile: Alice edits, reacts and recalls; Bob hides a message on another device
    await menu(bubble(alice, 'anything new?'), 'Edit');
    await alice.page.fill('[data-testid=composer]', 'anything new? (edited while Bob was away)');
    await alice.page.press('[data-testid=composer]', 'Enter');
    await bubble(alice, 'edited while Bob was away').locator('[data-testid=edited]').waitFor();
    await bubble(alice, 'answering the old one').locator('summary').click();
    await bubble(alice, 'answering the old one').locator('.picker button[data-emoji="❤️"]').click();
    await bubble(alice, 'answering the old one').locator('.reaction[data-emoji="❤️"]').waitFor();
    await menu(bubble(alice, 'this one will be recalled'), 'Recall');
    await alice.page.waitForSelector('.msg .recalled');
    const history = await api('GET', `/api/messages?timelineId=${c2c(alice, bob)}&typeu=1&limit=100`, { token: bob.user.token });
    const hidden = history.body.data.find((m: { content: string }) => m.content === 'filler 59');
    assert.ok(hidden, JSON.stringify(history.body).slice(0, 300));
    assert.strictEqual((await api('DELETE', `/api/messages/${hidden._id}`, { token: bob.user.token })).status, 200);
    // nothing reached Bob's page
    assert.strictEqual(await bob.page.locator('.msg .text', { hasText: 'edited while Bob was away' }).count(), 0);

    offline = false;
    await bob.page.waitForSelector('[data-testid=conn][data-state=online]', { timeout: 20000 });
    // the room was open (and reloaded at reconnect); the conversation with Alice is shown from memory
    await openChat(bob, c2c(alice, bob));
    await bubble(bob, 'edited while Bob was away').locator('[data-testid=edited]').waitFor();
    await bubble(bob, 'answering the old one').locator('.reaction[data-emoji="❤️"] .count', { hasText: '1' }).waitFor();
    await bob.page.locator('.msg .text', { hasText: 'filler 59' }).waitFor({ state: 'detached' });
    assert.strictEqual(await bob.page.locator('.msg .text', { hasText: 'this one will be recalled' }).count(), 0);
    assert.ok(await bob.page.locator('.msg .recalled').count() >= 1);
    await shot(bob, 'f20-converged-after-offline');
    await bob.page.unrouteAll({ behavior: 'ignoreErrors' });
    // the relay's refused polling requests are logged by the browser; those were expected here
    bob.problems = bob.problems.filter(p => !/ERR_INTERNET_DISCONNECTED/.test(p));
  });

  it('opens a message menu from the keyboard and closes it with Escape', async () => {
    const message = bubble(alice, 'anything new? (edited while Bob was away)');
    await message.locator('summary').focus();
    await alice.page.keyboard.press('Enter');
    await message.locator('.menu-items').getByRole('button', { name: 'Reply', exact: true }).waitFor();
    await alice.page.keyboard.press('Escape');
    await message.locator('.menu-items').waitFor({ state: 'hidden' });
    assert.strictEqual(await message.locator('summary').evaluate(el => el === document.activeElement), true);
  });

  it('had no console errors or page errors in any browser', async () => {
    for (const p of people) assert.deepStrictEqual(p.problems, [], p.nickname);
  });
});
