import assert from 'node:assert';
import { api, baseUrl } from '../../helpers';

describe('web client at /', () => {
  describe('GET /', () => {
    let res: Response;
    let html: string;
    before(async () => {
      res = await fetch(`${await baseUrl()}/`, { signal: AbortSignal.timeout(5000) });
      html = await res.text();
    });

    it('serves the HTML page', () => {
      assert.strictEqual(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    });

    it('with a CSP that allows only our origin (and gravatar images), nothing unsafe', () => {
      const csp = res.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/);
      assert.match(csp, /script-src 'self'(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*(?!\.gravatar)/);
    });

    it('whose only script is the built module: no inline script', () => {
      assert.match(html, /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/);
      assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)[^>]*>/, 'no inline script');
    });
  });

  it('serves the built assets from /assets/ with a long cache', async () => {
    const html = await (await fetch(`${await baseUrl()}/`)).text();
    const src = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1];
    const res = await fetch(`${await baseUrl()}${src}`, { signal: AbortSignal.timeout(5000) });
    assert.strictEqual(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /javascript/);
    assert.match(res.headers.get('cache-control') ?? '', /max-age=31536000/);
  });

  it('leaves the JSON API as it was (unknown routes are still 404 / 10005)', async () => {
    const res = await api('GET', '/index.html');
    assert.strictEqual(res.status, 404);
    assert.strictEqual(res.body.code, 10005);
  });
});
