/**
 * The message features of PROTOCOL §8 in the web client, in a real browser (Debian's chromium through
 * playwright-core) against the app on an ephemeral port and the real embedded database. Three isolated
 * browser contexts are three people: Alice and Bob are friends, and all three are in Alice's room.
 * They sign up through the API (the sign-up page has its own test in client.test.ts) and open the app
 * with their session. The steps build on each other, so they run in order. Screenshots go to
 * test/web/screenshots/ (not committed).
 */
import assert from 'node:assert';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { api, baseUrl, signup, type TestUser } from '../helpers';
import { befriend } from '../social-helpers';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
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

  /** The bubble of the newest message with this text, on one person's screen. */
  const bubble = (p: Person, text: string): Locator => p.page.locator('.msg', { hasText: text }).last();
  const convRow = (p: Person, id: string) => p.page.locator(`[data-testid=conversations] li[data-conv="${id}"]`);
  const c2c = (a: Person, b: Person) => (a.user.id < b.user.id ? `${a.user.id}@${b.user.id}` : `${b.user.id}@${a.user.id}`);

  async function openChat(p: Person, id: string) {
    await p.page.click('[data-tab=chats]');
    await convRow(p, id).click();
    await p.page.waitForSelector(`[data-testid=chat][data-conv="${id}"]`);
  }

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    url = await baseUrl();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [ '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage' ],
    });
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

  it('had no console errors or page errors in any browser', async () => {
    for (const p of people) assert.deepStrictEqual(p.problems, [], p.nickname);
  });
});
