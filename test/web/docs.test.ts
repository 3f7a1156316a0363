/**
 * The /docs page in a real browser (Debian's chromium through playwright-core): both documents
 * rendered by the bundled libraries, served from our origin under the page's CSP.
 */
import assert from 'node:assert';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './browser';
import { baseUrl } from '../helpers';

const WAIT = 8000;
/** screenshots of the page (not committed) */
const SHOTS = path.join(__dirname, '../.screenshots');

describe('/docs in a real browser', function() {
  this.timeout(60000);
  let url: string;
  let browser: Browser;
  let page: Page;
  /** console errors, page errors, requests to other origins, CSP violations */
  const problems: string[] = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    url = await baseUrl();
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const origin = new URL(url).origin;
    await context.route(() => true, route => {
      const target = route.request().url();
      if (target.startsWith('data:') || new URL(target).origin === origin) return route.continue();
      problems.push(`request to another origin: ${target}`);
      return route.abort();
    });
    await context.addInitScript(() => {
      (window as any).cspViolations = [];
      document.addEventListener('securitypolicyviolation', e => (window as any).cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
    });
    page = await context.newPage();
    page.setDefaultTimeout(WAIT);
    page.on('console', msg => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
    page.on('pageerror', err => problems.push(`page error: ${err.message}`));
  });

  after(async () => {
    await page?.screenshot({ path: path.join(SHOTS, 'docs.png') }).catch(() => undefined);
    await page?.locator('#sockets').scrollIntoViewIfNeeded().catch(() => undefined);
    await page?.screenshot({ path: path.join(SHOTS, 'docs-sockets.png') }).catch(() => undefined);
    await browser?.close();
  });

  it('serves the page with a CSP that allows only our origin and no inline script', async () => {
    const res = await page.goto(`${url}/docs`);
    assert.strictEqual(res?.status(), 200);
    const csp = res!.headers()['content-security-policy'];
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
  });

  it('renders a known REST route from the OpenAPI document', async () => {
    const route = page.locator('#openapi .opblock-summary-path', { hasText: '/api/rooms/{id}/join' });
    await route.first().waitFor();
    assert.strictEqual(await page.locator('#openapi .opblock').count() > 50, true, 'every route is listed');
  });

  it('renders a known socket event from the AsyncAPI document', async () => {
    await page.locator('#asyncapi', { hasText: 'sync_changes' }).first().waitFor();
    await page.locator('#asyncapi', { hasText: 'c_message_update' }).first().waitFor();
  });

  it('had no console error, page error, request to another origin or CSP violation', async () => {
    const violations = await page.evaluate(() => (window as any).cspViolations as string[]);
    assert.deepStrictEqual([ ...problems, ...violations.map(v => `csp: ${v}`) ], []);
  });
});
