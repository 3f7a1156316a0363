/**
 * The web client in a real browser (Debian's chromium through playwright-core) against the app on an
 * ephemeral port and the real embedded database. Two isolated browser contexts are two people; a
 * third is a computer that signs in by QR code. The steps build on each other, so they run in order.
 * Screenshots go to test/.screenshots/ (not committed).
 */
import assert from 'node:assert';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './browser';
import { createOrPromoteAdmin } from '../../app/cli/admin';
import mm from 'egg-mock';
import { api, app, baseUrl, connectOk, emitAck, sleep, uniqueName } from '../helpers';

const SHOTS = path.join(__dirname, '../.screenshots');
const WAIT = 10000;

interface Person { name: string; page: Page; context: BrowserContext; problems: string[] }

/** A 1×1 PNG: gravatar stands in for the internet, which tests do not reach. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

describe('web client in a real browser', function() {
  this.timeout(60000);
  let url: string;
  let browser: Browser;
  const people: Person[] = [];
  let alice: Person;
  let bob: Person;
  let desk: Person;

  async function person(name: string): Promise<Person> {
    const context = await browser.newContext({ viewport: { width: 1180, height: 760 } });
    await context.route(/^https:\/\/([a-z0-9-]+\.)?gravatar\.com\//, route => route.fulfill({ status: 200, contentType: 'image/png', body: PNG }));
    await context.addInitScript(() => {
      (window as any).cspViolations = [];
      document.addEventListener('securitypolicyviolation', e => (window as any).cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    const p: Person = { name, page: null as unknown as Page, context, problems: [] };
    p.page = await watchedPage(p);
    people.push(p);
    return p;
  }

  /** A new tab of this person whose console errors, page errors and alerts are recorded. */
  async function watchedPage(p: Person) {
    const page = await p.context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('console', msg => { if (msg.type() === 'error') p.problems.push(`console: ${msg.text()}`); });
    page.on('pageerror', err => p.problems.push(`page error: ${err.message}`));
    page.on('dialog', dialog => {
      // alert() means injected script ran; prompt/confirm are the app's own menus (answered by the steps)
      if (dialog.type() === 'alert') p.problems.push(`alert: ${dialog.message()}`);
    });
    extraPages.push(page);
    return page;
  }
  const extraPages: Page[] = [];
  const sessionOf = (p: Person) => p.page.evaluate(() => JSON.parse(localStorage.getItem('im.session')!) as { token: string });

  const shot = (p: Person, name: string) => p.page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  const online = (p: Person) => p.page.waitForSelector('[data-testid=conn][data-state=online]');

  async function signUp(p: Person, email?: string) {
    await p.page.goto(`${url}/#/signup`);
    await p.page.fill('input[name=username]', p.name);
    await p.page.fill('input[name=password]', 'correct horse battery');
    if (email) await p.page.fill('input[name=email]', email);
    await p.page.fill('input[name=nickname]', p.name.slice(0, 1).toUpperCase() + p.name.slice(1, 8));
    await p.page.click('[data-testid=signup] button.primary');
    await online(p);
  }

  async function sendText(p: Person, text: string) {
    await p.page.fill('[data-testid=composer]', text);
    await p.page.press('[data-testid=composer]', 'Enter');
  }

  /** The bubble of the newest message with this text, on one person's screen. */
  const bubble = (p: Person, text: string) => p.page.locator('.msg', { hasText: text }).last();

  before(async () => {
    // one run's screenshots only
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    url = await baseUrl();
    browser = await launchChromium();
    alice = await person(uniqueName('alice'));
    bob = await person(uniqueName('bob'));
    desk = await person(uniqueName('desk'));
    console.log(`      screenshots: ${SHOTS}`);
  });

  after(async () => {
    await browser?.close();
  });

  it('draws the first screen quickly from a small bundle', async () => {
    // three cold loads (each a fresh context: nothing cached), the median is the figure: the machine is shared
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(url);
      await page.waitForSelector('[data-testid=login]', { timeout: WAIT });
      times.push(await page.evaluate(() => performance.getEntriesByName('first-screen')[0]?.startTime ?? -1));
      await context.close();
    }
    const median = [ ...times ].sort((a, b) => a - b)[1];
    const html = await (await fetch(`${url}/`)).text();
    let gz = 0;
    let raw = 0;
    for (const [ , src ] of html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.(?:js|css))"/g)) {
      const body = Buffer.from(await (await fetch(`${url}${src}`)).arrayBuffer());
      raw += body.length;
      gz += gzipSync(body, { level: 9 }).length;
    }
    console.log(`      bundle: ${(raw / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped (JS + CSS); ` +
      `first screen: ${median.toFixed(0)} ms after navigation start (median of ${times.map(t => t.toFixed(0)).join(', ')} ms, cold loads)`);
    await alice.page.goto(url);
    await alice.page.waitForSelector('[data-testid=login]');
    await shot(alice, '01-login');
    assert.ok(times.every(t => t > 0), 'the app marks its first screen');
    assert.ok(gz < 300 * 1024, `bundle ${gz} bytes gzipped`);
    assert.ok(median < 1000, `first screen after ${median} ms`);
  });

  it('signs up two people, each with the connection shown online', async () => {
    await signUp(alice, `${alice.name}@example.com`);
    await signUp(bob);
    await shot(bob, '02-empty-app');
    // signup with an e-mail shows the gravatar
    assert.match(await alice.page.getAttribute('.top img.avatar', 'src') ?? '', /^https:\/\/.*gravatar\.com\/avatar\//);
  });

  it('sends a friend request that the other accepts', async () => {
    await alice.page.click('[data-tab=friends]');
    await alice.page.fill('input[name=q]', bob.name);
    await alice.page.click('[data-testid=friends] form button');
    await alice.page.fill('input[name=note]', 'hi, it is alice');
    await alice.page.click('[data-testid=search-results] li:has-text("@' + bob.name + '") button');
    await bob.page.click('[data-tab=friends]');
    const request = bob.page.locator('[data-testid=incoming] li', { hasText: 'hi, it is alice' });
    await request.waitFor();
    await shot(bob, '03-friend-request');
    await request.locator('button.primary').click();
    await alice.page.waitForSelector(`[data-friend="${bob.name}"]`);
    await bob.page.waitForSelector(`[data-friend="${alice.name}"]`);
    // both online: presence dots are green
    await alice.page.waitForSelector(`[data-friend="${bob.name}"] .dot.online`);
  });

  it('chats both ways; ticks turn to "read" when the other opens the conversation', async () => {
    await alice.page.click(`[data-friend="${bob.name}"] button[title=Chat]`);
    await sendText(alice, 'Hello Bob!');
    await bubble(alice, 'Hello Bob!').locator('[data-status=sent], [data-status=delivered]').waitFor();
    // Bob sees the conversation with an unread badge, opens it: Alice's tick becomes "read"
    await bob.page.click('[data-tab=chats]');
    const row = bob.page.locator('[data-testid=conversations] li', { hasText: 'Hello Bob!' });
    await row.locator('[data-testid=unread]').waitFor();
    await shot(bob, '04-conversations-unread');
    await row.click();
    await bubble(bob, 'Hello Bob!').waitFor();
    await bubble(alice, 'Hello Bob!').locator('[data-status=read]').waitFor();
    await sendText(bob, 'Hi Alice, line one\nline two');
    await bubble(alice, 'line two').waitFor();
    await bubble(bob, 'line two').locator('[data-status=read]').waitFor();
    await shot(alice, '05-chat-read-ticks');
  });

  it('shows the other person typing', async () => {
    await bob.page.fill('[data-testid=composer]', 'I am typ');
    await bob.page.type('[data-testid=composer]', 'ing');
    await alice.page.waitForSelector('[data-testid=typing]');
    await shot(alice, '06-typing');
    await bob.page.fill('[data-testid=composer]', '');
  });

  it('recalls a message on both screens', async () => {
    await sendText(alice, 'oops, wrong chat');
    const mine = bubble(alice, 'oops, wrong chat');
    await mine.locator('[data-status]').and(alice.page.locator('[data-status=sent], [data-status=delivered], [data-status=read]')).waitFor();
    const fp = await mine.getAttribute('data-fp');
    await bob.page.waitForSelector(`.msg[data-fp="${fp}"]`);
    await mine.locator('summary').click();
    await mine.locator('.menu-items button', { hasText: 'Recall' }).click();
    await alice.page.waitForSelector(`.msg[data-fp="${fp}"] .recalled`);
    await bob.page.waitForSelector(`.msg[data-fp="${fp}"] .recalled`);
    assert.strictEqual(await bob.page.locator('.msg', { hasText: 'oops, wrong chat' }).count(), 0);
  });

  it('shows HTML in a message as text and runs none of it', async () => {
    const evil = '<img src=x onerror=alert(1)>';
    await sendText(alice, evil);
    const shown = bubble(bob, evil);
    await shown.waitFor();
    assert.strictEqual(await shown.locator('.text').textContent(), evil);
    assert.strictEqual(await bob.page.locator('img[src=x]').count(), 0);
    assert.strictEqual(await alice.page.locator('img[src=x]').count(), 0);
    // a link in a message is clickable, opened without our window or referrer
    await sendText(alice, 'see https://example.org/page?a=1 and javascript:alert(2)');
    const link = bubble(bob, 'see ').locator('a');
    await link.waitFor();
    assert.strictEqual(await link.count(), 1);
    assert.strictEqual(await link.getAttribute('href'), 'https://example.org/page?a=1');
    assert.match(await link.getAttribute('rel') ?? '', /noopener/);
    await shot(bob, '07-html-as-text');
  });

  it('deletes a message for one person only', async () => {
    const text = 'only Bob will forget this';
    await sendText(alice, text);
    const mine = bubble(bob, text);
    await mine.waitFor();
    await mine.locator('summary').click();
    await mine.locator('.menu-items button', { hasText: 'Delete for me' }).click();
    await bob.page.locator('.msg', { hasText: text }).waitFor({ state: 'detached' });
    assert.strictEqual(await alice.page.locator('.msg', { hasText: text }).count(), 1);
  });

  it('lets one person create a room the other joins, with a message each way and the join in the timeline', async () => {
    const room = uniqueName('room');
    await alice.page.click('[data-tab=rooms]');
    await alice.page.fill('input[name=room]', room);
    await alice.page.click('[data-testid=rooms] form button');
    await alice.page.waitForSelector(`[data-testid=chat] .chat-head:has-text("${room}")`);
    await bob.page.click('[data-tab=rooms]');
    await bob.page.click('[data-testid=rooms] h3 button');
    await bob.page.click(`[data-testid=public-rooms] li[data-room="${room}"] button`);
    await bob.page.waitForSelector(`[data-testid=chat] .chat-head:has-text("${room}")`);
    await alice.page.waitForSelector('[data-testid=g-notice]:has-text("joined")');
    await sendText(bob, 'hello room, bob here');
    await bubble(alice, 'hello room, bob here').waitFor();
    await sendText(alice, 'welcome bob');
    await bubble(bob, 'welcome bob').waitFor();
    await bob.page.click('[data-testid=room-info-button]');
    await bob.page.waitForSelector(`[data-testid=room-info] li:has-text("owner")`);
    await shot(bob, '08-room');
  });

  it('lets the room owner set a notice that members see, with the change in the timeline', async () => {
    await alice.page.click('[data-testid=room-info-button]');
    alice.page.once('dialog', d => d.accept('Standup at 10, be there'));
    await alice.page.click('[data-testid=room-info] button:has-text("Notice")');
    await bob.page.waitForSelector('.room-notice:has-text("Standup at 10")');
    await bob.page.waitForSelector('[data-testid=g-notice]:has-text("notice")');
    await alice.page.click('[data-testid=room-info] button[aria-label=Close]');
  });

  it('uploads an image with progress and shows it to the other from /files/', async () => {
    const image = await alice.page.screenshot({ clip: { x: 0, y: 0, width: 120, height: 60 } });
    // a slow uplink, so the progress is there to see
    const cdp = await alice.context.newCDPSession(alice.page);
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 4 * 1024 });
    await alice.page.setInputFiles('[data-testid=file-input]', { name: 'shot.png', mimeType: 'image/png', buffer: image });
    await alice.page.waitForSelector('[data-testid=upload-progress]');
    await shot(alice, '09-upload-progress');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    await alice.page.waitForSelector('[data-testid=upload-progress]', { state: 'detached' });
    await cdp.detach();
    const img = bob.page.locator('.msg img.inline-img').last();
    await img.waitFor();
    assert.match(await img.getAttribute('src') ?? '', /^\/files\/[0-9a-f]{32}$/);
    await bob.page.waitForFunction(() => {
      const all = document.querySelectorAll<HTMLImageElement>('.msg img.inline-img');
      const el = all[all.length - 1];
      return el?.complete && el.naturalWidth === 120;
    });
    await shot(bob, '10-image');
  });

  it('lets the owner dissolve the room; members see it in the timeline and can no longer write', async () => {
    const accept = (d: { type(): string; accept(): Promise<void> }) => { if (d.type() === 'confirm') void d.accept(); };
    alice.page.on('dialog', accept);
    await alice.page.click('[data-testid=room-info-button]');
    await alice.page.click('[data-testid=room-info] button.danger:has-text("Dissolve")');
    alice.page.off('dialog', accept);
    await bob.page.waitForSelector('[data-testid=g-notice]:has-text("dissolved")');
    await bob.page.waitForSelector('.composer:has-text("You are not in this room")');
  });

  it('lets the owner of a private room add a member, hand over ownership, and be removed by the new owner', async () => {
    const room = uniqueName('priv');
    const dialogs = (d: { type(): string; accept(text?: string): Promise<void> }) => { void d.accept(d.type() === 'prompt' ? bob.name : undefined); };
    alice.page.on('dialog', dialogs);
    await alice.page.click('[data-tab=rooms]');
    await alice.page.fill('input[name=room]', room);
    await alice.page.check('[data-testid=rooms] form input[type=checkbox]');
    await alice.page.click('[data-testid=rooms] form button');
    await alice.page.waitForSelector(`[data-testid=chat] .chat-head:has-text("${room}")`);
    await alice.page.click('[data-testid=room-info-button]');
    await alice.page.click('[data-testid=room-info] button:has-text("Add member")');
    const bobRow = alice.page.locator('[data-testid=room-info] li', { hasText: bob.name.slice(1, 8) });
    await bobRow.waitFor();
    // Bob was added: the room is his too
    await bob.page.click('[data-tab=rooms]');
    await bob.page.click(`[data-testid=rooms] li[data-room="${room}"]`);
    await bob.page.waitForSelector('[data-testid=g-notice]:has-text("You were added")');
    await bobRow.locator('summary').click();
    await bobRow.locator('.menu-items button', { hasText: 'Make owner' }).click();
    await alice.page.waitForSelector('[data-testid=room-info] button:has-text("Leave room")');
    alice.page.off('dialog', dialogs);
    await bob.page.click('[data-testid=room-info-button]');
    await bob.page.waitForSelector('[data-testid=room-info] button:has-text("Rename")');
    const aliceRow = bob.page.locator('[data-testid=room-info] li', { hasText: alice.name.slice(1, 8) });
    await aliceRow.locator('summary').click();
    await aliceRow.locator('.menu-items button', { hasText: 'Remove from room' }).click();
    await alice.page.waitForSelector('[data-testid=g-notice]:has-text("You were removed")');
    await alice.page.waitForSelector('.composer:has-text("You are not in this room")');
  });

  it('signs a third browser in by QR code, confirmed by a signed-in person', async () => {
    await desk.page.goto(url);
    const link = await desk.page.locator('[data-testid=qr-link]').getAttribute('href');
    assert.match(link ?? '', /#\/qr\/[\w-]+$/);
    await desk.page.waitForSelector('[data-testid=qr] svg');
    await shot(desk, '11-qr-login');
    await bob.page.goto(link!);
    await bob.page.waitForSelector('[data-testid=qr-confirm] button.primary');
    // opening the link shows which computer asks and tells that computer nothing
    assert.strictEqual(await bob.page.textContent('[data-testid=qr-ip]'), '127.0.0.1');
    assert.match(await bob.page.textContent('[data-testid=qr-browser]') ?? '', /^Chrome on Linux$/);
    await shot(bob, '12-qr-confirm');
    await desk.page.waitForTimeout(300);
    assert.strictEqual(await desk.page.locator('[data-testid=qr] .ok').count(), 0);
    await bob.page.click('[data-testid=qr-confirm] button.primary');
    await bob.page.waitForSelector('[data-testid=qr-confirm] .ok');
    await online(desk).catch(async err => { await shot(desk, 'debug-desk'); throw err; });
    const me = await desk.page.textContent('[data-testid=me]');
    assert.strictEqual(me, bob.name.slice(0, 1).toUpperCase() + bob.name.slice(1, 8));
    // the desk (DESKTOP) does not push Bob's browser (WEB) off
    await bob.page.goto(`${url}/#/`);
    await online(bob).catch(async err => { await shot(bob, 'debug-bob'); throw err; });
    await shot(desk, '13-qr-signed-in');
  });

  it('shows a second tab of the same person taking over, and the first taking it back', async () => {
    const second = await watchedPage(bob);
    await second.goto(url);
    await second.waitForSelector('[data-testid=conn][data-state=online]');
    await bob.page.waitForSelector('[data-testid=replaced]');
    await shot(bob, '14-signed-in-elsewhere');
    await bob.page.click('[data-testid=replaced] button');
    await online(bob);
    await second.waitForSelector('[data-testid=replaced]');
    await second.close();
  });

  it('shows a custom status to friends as a presence dot', async () => {
    await bob.page.click('[data-tab=friends]');
    await bob.page.waitForSelector(`[data-friend="${alice.name}"] .dot.online`);
    await alice.page.selectOption('[data-testid=status]', 'busy');
    await bob.page.waitForSelector(`[data-friend="${alice.name}"] .dot.busy`);
    await alice.page.selectOption('[data-testid=status]', 'online');
    await bob.page.waitForSelector(`[data-friend="${alice.name}"] .dot.online`);
  });

  it('shows a system notice as a banner to everyone online', async () => {
    const username = uniqueName('adm');
    await createOrPromoteAdmin({ url: process.env.MONGODB_URL!, username, password: 'a long admin password' });
    const login = await api('POST', '/api/login', { body: { username, password: 'a long admin password' } });
    const sent = await api('POST', '/api/admin/notices', { token: login.body.data.token, body: { content: 'Maintenance tonight at 22:00' } });
    assert.strictEqual(sent.status, 201, JSON.stringify(sent.body));
    await alice.page.waitForSelector('[data-testid=sys-notice]:has-text("Maintenance tonight")');
    await bob.page.waitForSelector('[data-testid=sys-notice]:has-text("Maintenance tonight")');
    await shot(bob, '15-system-notice');
    await bob.page.click('[data-testid=sys-notice] button');
    await alice.page.click('[data-testid=sys-notice] button');
  });

  it('files a friend under an alias and a group', async () => {
    await alice.page.click('[data-tab=friends]');
    const answers = [ 'Bobby', 'Work' ];
    const answer = (d: { type(): string; accept(text?: string): Promise<void> }) => { if (d.type() === 'prompt') void d.accept(answers.shift()); };
    alice.page.on('dialog', answer);
    await alice.page.locator(`[data-friend="${bob.name}"] summary`).click();
    await alice.page.click(`[data-friend="${bob.name}"] .menu-items button:has-text("Alias")`);
    await alice.page.waitForSelector(`h3:has-text("Work") + ul [data-friend="${bob.name}"]:has-text("Bobby")`);
    alice.page.off('dialog', answer);
  });

  it('refuses messages from a blocked person until unblocked, then the retry goes through', async () => {
    await bob.page.click('[data-tab=friends]');
    await bob.page.click(`[data-friend="${alice.name}"] button[title=Chat]`);
    // everything here was read before: no "New messages" divider from the first visit
    await bubble(bob, 'Hello Bob!').waitFor();
    assert.strictEqual(await bob.page.locator('[data-testid=new-divider]').count(), 0);
    const accept = (d: { type(): string; accept(): Promise<void> }) => { if (d.type() === 'confirm') void d.accept(); };
    alice.page.on('dialog', accept);
    await alice.page.locator(`[data-friend="${bob.name}"] summary`).click();
    await alice.page.click(`[data-friend="${bob.name}"] .menu-items button:has-text("Block")`);
    alice.page.off('dialog', accept);
    await alice.page.waitForSelector('h3:has-text("Blocked") + ul li button:has-text("Unblock")');
    await sendText(bob, 'are you there?');
    const refused = bubble(bob, 'are you there?');
    await refused.locator('[data-status=failed]').waitFor();
    await shot(bob, '16-blocked-failed');
    await alice.page.click('h3:has-text("Blocked") + ul li button:has-text("Unblock")');
    await alice.page.waitForSelector('h3:has-text("Blocked")', { state: 'detached' });
    await refused.locator('summary').click();
    await refused.locator('.menu-items button', { hasText: 'Retry' }).click();
    await bubble(bob, 'are you there?').locator('[data-status=sent], [data-status=delivered], [data-status=read]').waitFor();
    await alice.page.click('[data-tab=chats]');
    await alice.page.locator('[data-testid=conversations] li', { hasText: 'are you there?' }).waitFor();
  });

  it('fits a phone-width screen: the list or the open conversation, with a way back', async () => {
    await bob.page.setViewportSize({ width: 390, height: 760 });
    await bob.page.waitForSelector('[data-testid=chat] .back');
    await shot(bob, '17-phone-chat');
    await bob.page.click('[data-testid=chat] .back');
    await bob.page.waitForSelector('[data-testid=conversations]');
    assert.strictEqual(await bob.page.locator('[data-testid=chat]').count(), 0);
    await shot(bob, '18-phone-list');
    await bob.page.setViewportSize({ width: 1180, height: 760 });
  });

  it('pulls and acks what arrived while offline, and keeps only the visible rows of a long conversation in the DOM', async function() {
    this.timeout(90000);
    const COUNT = 160;
    // Bob has no socket open (his tab and his QR-signed-in desk are closed) while Alice writes
    const bobToken = (await sessionOf(bob)).token;
    const idOf = async (name: string) => (await api('GET', `/api/users?q=${name}`, { token: bobToken })).body.data[0]._id as string;
    const bobUser = await idOf(bob.name);
    const aliceUser = await idOf(alice.name);
    const conversationId = bobUser < aliceUser ? `${bobUser}@${aliceUser}` : `${aliceUser}@${bobUser}`;
    await desk.page.goto('about:blank');
    await bob.page.goto('about:blank');
    const aliceSocket = await connectOk({ token: (await sessionOf(alice)).token, query: { deviceType: 'MOBILE' } });
    // in batches under the per-socket event limit (100/s)
    for (let i = 1; i <= COUNT; i += 20) {
      const acks = await Promise.all(Array.from({ length: 20 }, (_, k) => emitAck(aliceSocket, 'to',
        { type: 1, to: bobUser, content: `long ${String(i + k).padStart(3, '0')}`, fp: `long-${Date.now()}-${i + k}` }, 10000)));
      assert.deepStrictEqual(acks.filter(a => a.code !== 0), []);
      await sleep(300);
    }
    await bob.page.goto(`${url}/#/`);
    await online(bob);
    const row = bob.page.locator(`[data-testid=conversations] li[data-conv="${conversationId}"]`);
    await row.locator('[data-testid=unread]', { hasText: String(COUNT) }).waitFor();
    // everything was acked by the page: another device of Bob's has nothing left to pull (the page
    // shows the list first and acks the pulled pages after it, so the last ack may take a moment)
    const bobMobile = await connectOk({ token: bobToken, query: { deviceType: 'MOBILE' } });
    let pulled = await emitAck(bobMobile, 'offline_message');
    for (let i = 0; i < 50 && pulled.data.payload.length; i++) {
      await sleep(100);
      pulled = await emitAck(bobMobile, 'offline_message');
    }
    assert.deepStrictEqual(pulled.data.payload, []);
    await row.click();
    await bubble(bob, `long ${COUNT}`).waitFor();
    const list = bob.page.locator('.vlist');
    const total = Number(await list.getAttribute('data-total'));
    const rendered = await bob.page.locator('.vlist > [data-key]').count();
    assert.ok(total >= COUNT, `total ${total}`);
    assert.ok(rendered < total / 2, `${rendered} of ${total} rows in the DOM`);
    await shot(bob, '19-long-conversation');
    // scrolling back reaches the first message, still with a window of rows
    for (let i = 0; i < 20 && !await bob.page.locator('.msg', { hasText: 'long 001' }).count(); i++) {
      await list.evaluate(el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); });
      await bob.page.waitForTimeout(150);
    }
    await bubble(bob, 'long 001').waitFor();
    assert.ok(await bob.page.locator('.vlist > [data-key]').count() < total / 2);
    // the first unread message comes after the "New messages" divider
    await bob.page.locator('[data-key]', { has: bob.page.locator('[data-testid=new-divider]') }).locator('.msg', { hasText: 'long 001' }).waitFor();
    await shot(bob, '20-new-messages-divider');
  });

  it('resets a forgotten password by the security question, then signs in with the new one', async () => {
    const username = uniqueName('carol');
    await api('POST', '/api/signup', { body: { username, password: 'first password', question: 'First pet?', answer: 'Rex' } });
    await desk.page.goto(`${url}/#/`);
    await desk.page.click('[data-testid=logout]');
    await desk.page.waitForSelector('[data-testid=login]');
    await desk.page.goto(`${url}/#/reset`);
    await desk.page.waitForSelector('[data-testid=reset]');
    await desk.page.fill('input[name=username]', username);
    await desk.page.click('form button.primary');
    await desk.page.waitForSelector('.question:has-text("First pet?")');
    await desk.page.fill('input[name=answer]', ' rex ');
    await desk.page.fill('input[name=newPassword]', 'second password');
    await desk.page.click('form button.primary');
    await desk.page.click('.ok a[href="#/login"]');
    await desk.page.waitForSelector('[data-testid=login]');
    await desk.page.fill('input[name=username]', username);
    await desk.page.fill('input[name=password]', 'second password');
    await desk.page.click('[data-testid=login] button.primary');
    await online(desk);
    assert.strictEqual(await desk.page.textContent('[data-testid=me]'), username);
  });

  it('rotates the tokens before the access token expires, and stays online', async () => {
    const before = await desk.page.evaluate(() => JSON.parse(localStorage.getItem('im.session')!));
    // the stored expiry says "in 5 s": the page refreshes first, then opens its socket with the new token
    await desk.page.evaluate(() => {
      const s = JSON.parse(localStorage.getItem('im.session')!);
      localStorage.setItem('im.session', JSON.stringify({ ...s, exp: Date.now() + 5000 }));
    });
    await desk.page.reload();
    await online(desk);
    await desk.page.waitForFunction(old => JSON.parse(localStorage.getItem('im.session')!).refreshToken !== old, before.refreshToken);
    const after = await desk.page.evaluate(() => JSON.parse(localStorage.getItem('im.session')!));
    // (the access token itself may be byte-identical: same claims within the same second)
    assert.ok(after.exp > Date.now() + 60_000);
    const me = await api('GET', '/api/users/me', { token: after.token });
    assert.strictEqual(me.status, 200);
  });

  it('goes back to the login page when the session ends elsewhere (20001)', async () => {
    const { token } = await sessionOf(desk);
    const problems = desk.problems.length;
    assert.strictEqual((await api('POST', '/api/logout', { token })).status, 200);
    await desk.page.waitForSelector('[data-testid=login]');
    assert.strictEqual(await desk.page.evaluate(() => localStorage.getItem('im.session')), null);
    // the browser logs the refused refresh (401) as a failed request; that one is expected here
    const logged = desk.problems.splice(problems);
    assert.deepStrictEqual(logged.filter(l => !/status of 401/.test(l)), []);
  });

  it('sends a message again with the same fp after the connection dropped before its ack, and it arrives once', async () => {
    // Alice's page talks to the server through a relay that can lose the ack of a `to` and cut the line
    let cut = false;
    let upgraded = false;
    await alice.page.routeWebSocket(/\/ws\//, ws => {
      const server = ws.connectToServer();
      ws.onMessage(m => {
        // engine.io's upgrade packet: from here on everything goes over this websocket
        if (m === '5') upgraded = true;
        server.send(m);
      });
      server.onMessage(m => {
        if (cut && typeof m === 'string' && m.startsWith('43/chat,') && m.includes('CHAT_TO_ACK')) {
          cut = false;
          ws.close();
          server.close();
          return;
        }
        ws.send(m);
      });
    });
    await alice.page.goto(`${url}/#/`);
    await alice.page.reload();
    await online(alice);
    const problems = alice.problems.length;
    await alice.page.click('[data-tab=friends]');
    await alice.page.click(`[data-friend="${bob.name}"] button[title=Chat]`);
    for (let i = 0; i < 100 && !upgraded; i++) await sleep(50);
    assert.ok(upgraded, 'the socket moved to websocket');
    cut = true;
    const text = 'stored once though its ack was lost';
    await sendText(alice, text);
    await bubble(alice, text).locator('[data-status=sent], [data-status=delivered], [data-status=read]').waitFor();
    assert.strictEqual(cut, false, 'the relay cut the connection');
    // Bob, still in this conversation, scrolled up to its first message in an earlier step
    await bob.page.click('[data-testid=to-newest]');
    await bubble(bob, text).waitFor();
    await sleep(500);
    assert.strictEqual(await alice.page.locator('.msg', { hasText: text }).count(), 1);
    assert.strictEqual(await bob.page.locator('.msg', { hasText: text }).count(), 1);
    // the browser logs a write the client made as the relay cut the line (a read or typing event); that one is expected here
    const logged = alice.problems.splice(problems);
    assert.deepStrictEqual(logged.filter(l => !/WebSocket is already in CLOSING or CLOSED state/.test(l)), []);
  });

  it('sends a message the busy server shed (20009) again after its retryAfterMs, and it arrives once', async () => {
    // the server takes no event but acks, reads and typing: Alice's send is shed with retryAfterMs
    mm(app.config, 'chatPending', { perSocket: 64, perProcess: 0 });
    const text = 'sent again once the server had room';
    try {
      await sendText(alice, text);
      await sleep(300);
      // shed, not failed: it stays pending and goes again
      assert.strictEqual(await bubble(alice, text).locator('[data-status=failed]').count(), 0);
    } finally {
      mm.restore();
    }
    await bubble(alice, text).locator('[data-status=sent], [data-status=read]').waitFor();
    await bubble(bob, text).waitFor();
    await sleep(500);
    assert.strictEqual(await bob.page.locator('.msg', { hasText: text }).count(), 1);
  });

  it('had no console errors, page errors, alerts or CSP violations in any browser', async () => {
    for (const p of people) {
      const violations = await p.page.evaluate(() => (window as any).cspViolations as string[]);
      assert.deepStrictEqual([ ...p.problems, ...violations.map(v => `csp: ${v}`) ], [], p.name);
    }
  });
});
