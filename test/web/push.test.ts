/**
 * Web Push in the web client, in Debian's chromium: the "Notify me" button subscribes the browser
 * with the server's VAPID key (the browser's own push service is out of reach offline, so
 * PushManager.subscribe is replaced by one that hands out a subscription at the test push service);
 * a message to the user with the tab closed reaches that push service encrypted for the browser;
 * the service worker shows the push, and a click on the notification opens the conversation.
 */
import assert from 'node:assert';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './browser';
import { api, app, baseUrl, connectOk, emitAck, signup, uniqueName } from '../helpers';
import { PushService, PUSH_CA_FILE } from '../push-service';

const WAIT = 10000;

describe('web client: push notifications', function() {
  this.timeout(60000);
  const service = new PushService();
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let url: string;
  let saved: typeof app.config.push;
  const username = uniqueName('pushy');
  let sub: ReturnType<PushService['subscribe']>;

  before(async () => {
    url = await baseUrl();
    await service.start();
    saved = { ...app.config.push };
    Object.assign(app.config.push, { allowPrivate: true, caFile: PUSH_CA_FILE });
    app.config.queue.pollMs = 50;
    app.jobs.start();
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1180, height: 760 } });
    await context.grantPermissions([ 'notifications' ], { origin: url });
    sub = service.subscribe();
    await context.addInitScript(s => {
      // the browser's push service (FCM) is not reachable here: subscriptions come from the test's
      (window as any).pushKeyUsed = null;
      PushManager.prototype.getSubscription = async () => null;
      PushManager.prototype.subscribe = async function(opts?: PushSubscriptionOptionsInit) {
        (window as any).pushKeyUsed = btoa(String.fromCharCode(...new Uint8Array(opts!.applicationServerKey as ArrayBuffer))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
        return { endpoint: s.endpoint, toJSON: () => s, unsubscribe: async () => true } as unknown as PushSubscription;
      };
    }, sub);
    page = await context.newPage();
    page.setDefaultTimeout(WAIT);
  });

  after(async () => {
    await app.jobs.stop();
    await browser?.close();
    await app.model.PushSubscription.deleteMany({ endpoint: sub.endpoint });
    await app.push.start();
    Object.assign(app.config.push, saved);
    app.config.queue.pollMs = 1000;
    await service.stop();
  });

  it('serves the service worker at /sw.js', async () => {
    const res = await fetch(`${url}/sw.js`);
    assert.strictEqual(res.status, 200);
    assert.match(res.headers.get('content-type')!, /javascript/);
    assert.match(await res.text(), /notificationclick/);
  });

  it('"Notify me" subscribes this browser with the server\'s VAPID key', async () => {
    await page.goto(`${url}/#/signup`);
    await page.fill('input[name=username]', username);
    await page.fill('input[name=password]', 'correct horse battery');
    await page.fill('input[name=nickname]', 'Pushy');
    await page.click('[data-testid=signup] button.primary');
    await page.waitForSelector('[data-testid=conn][data-state=online]');
    await page.click('[data-testid=push][data-state=off]');
    await page.waitForSelector('[data-testid=push][data-state=on]');
    const vapid = (await api('GET', '/api/push/vapid-key')).body.data.publicKey;
    assert.strictEqual(await page.evaluate(() => (window as any).pushKeyUsed), vapid);
    assert.strictEqual(await app.model.PushSubscription.countDocuments({ endpoint: sub.endpoint }), 1);
  });

  it('with the tab closed, a message reaches the browser\'s push service', async () => {
    const me = await app.model.User.findOne({ usernameLower: username.toLowerCase() }).lean<{ _id: unknown }>();
    await page.close();
    const sender = await signup({ nickname: 'Sender' });
    const socket = await connectOk({ token: sender.token });
    await new Promise(resolve => setTimeout(resolve, 300)); // the tab's socket is gone
    await emitAck(socket, 'to', { to: String(me!._id), type: 1, content: 'are you there?', fp: uniqueName('fp') });
    await service.until(() => service.delivered.some(d => d.subscription === sub.id));
    const push = service.delivered.find(d => d.subscription === sub.id)!;
    assert.strictEqual(push.payload.preview, 'are you there?');
    assert.strictEqual(push.payload.from.nickname, 'Sender');
  });

  it('the service worker shows the push; clicking it opens the conversation', async () => {
    page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    await page.goto(`${url}/#/`);
    await page.waitForSelector('[data-testid=conn][data-state=online]');
    await page.evaluate(() => navigator.serviceWorker.ready);
    const push = service.delivered.find(d => d.subscription === sub.id)!;
    // a push as the browser's push service would deliver it (the decrypted payload)
    const cdp = await context.newCDPSession(page);
    const registrations = new Promise<Array<{ registrationId: string; scopeURL: string }>>(resolve => cdp.on('ServiceWorker.workerRegistrationUpdated', e => resolve(e.registrations)));
    await cdp.send('ServiceWorker.enable');
    const registration = (await registrations).find(r => r.scopeURL === `${url}/`)!;
    // DevTools' push delivery was followed by no notification in about 1 run in 4 (not the worker's code:
    // delivering again shows it); a push service delivers again until the push is taken, so does this, every 2 s
    let notification: { title: string; body: string; data: { timelineId: string } } | null = null;
    let deliveredAt = 0;
    for (const end = Date.now() + WAIT; !notification && Date.now() < end;) {
      if (Date.now() - deliveredAt >= 2000) {
        deliveredAt = Date.now();
        await cdp.send('ServiceWorker.deliverPushMessage', { origin: url, registrationId: registration.registrationId, data: JSON.stringify(push.payload) });
      }
      notification = await page.evaluate(async () => {
        const list = await (await navigator.serviceWorker.ready).getNotifications();
        return list.length ? { title: list[0].title, body: list[0].body, data: list[0].data } : null;
      });
      if (!notification) await new Promise(resolve => setTimeout(resolve, 50));
    }
    assert.ok(notification, 'no notification shown');
    assert.deepStrictEqual([ notification.title, notification.body, notification.data.timelineId ], [ 'Sender', 'are you there?', push.payload.timelineId ]);
    // the user clicks it (the worker gets the notificationclick the browser would dispatch)
    const [ worker ] = context.serviceWorkers();
    await worker.evaluate(async () => {
      const [ n ] = await (self as any).registration.getNotifications();
      self.dispatchEvent(new (self as any).NotificationEvent('notificationclick', { notification: n }));
    });
    await page.waitForSelector('[data-testid=composer]');
    await page.waitForFunction(text => [ ...document.querySelectorAll('.chat *') ].some(e => e.textContent === text), 'are you there?');
  });

  it('with no tab open, the click opens one at the conversation', async () => {
    const push = service.delivered.find(d => d.subscription === sub.id)!;
    // what the worker's clients.openWindow opens
    const fresh = await context.newPage();
    fresh.setDefaultTimeout(WAIT);
    await fresh.goto(`${url}/#/open/${push.payload.typeu}/${encodeURIComponent(push.payload.timelineId)}`);
    await fresh.waitForSelector('[data-testid=composer]');
    await fresh.waitForFunction(text => [ ...document.querySelectorAll('.chat *') ].some(e => e.textContent === text), 'are you there?');
    assert.strictEqual(new URL(fresh.url()).hash, '#/');
  });
});
