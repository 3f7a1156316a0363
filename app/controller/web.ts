import { Controller } from 'egg';

/**
 * The page's policy: scripts, styles, sockets and fetches from our origin only, no inline script or
 * style, no plugins, no framing. Images: our origin (/files/, the built assets) and gravatar, where
 * signup puts avatars (PROTOCOL §7); message images are only ever shown from /files/ (web/src/content.ts).
 */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' https://gravatar.com https://*.gravatar.com",
  "media-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The web client (web/, built by `npm run build:web` into web/dist; its assets are served by egg-static). */
export default class WebController extends Controller {
  async index() {
    const { ctx, app } = this;
    const html = await app.builtFiles.read('index.html');
    if (!html) {
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'The web client is not built: run `npm run build:web` (npm run dev, npm test and npm run build do it).';
      return;
    }
    ctx.set({ 'Content-Security-Policy': WEB_CSP, 'Cache-Control': 'no-cache', 'Referrer-Policy': 'no-referrer' });
    ctx.type = 'html';
    ctx.body = html;
  }

  /** The service worker (web/public/sw.js → web/dist/sw.js) at the root, so its scope is the whole client. */
  async serviceWorker() {
    const { ctx, app } = this;
    const js = await app.builtFiles.read('sw.js');
    if (!js) {
      ctx.status = 404;
      return;
    }
    // browsers check a worker for updates at most daily anyway; no-cache makes them ask each time
    ctx.set({ 'Cache-Control': 'no-cache', 'Content-Security-Policy': "default-src 'self'" });
    ctx.type = 'application/javascript';
    ctx.body = js;
  }
}
