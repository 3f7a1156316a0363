import { Controller } from 'egg';
import { pagePolicy } from '../../lib/page-policy';

/**
 * The page's policy: our origin only (lib/page-policy.ts). Images: our origin (/files/, the built
 * assets) and gravatar, where signup puts avatars (PROTOCOL §7); message images are only ever shown
 * from /files/ (web/src/content.ts). Audio and video from our origin.
 */
const WEB_CSP = pagePolicy({ 'img-src': "'self' https://gravatar.com https://*.gravatar.com", 'media-src': "'self'" });

/** The web client (web/, built by `npm run build:web` into web/dist; its assets are served by egg-static). */
export default class WebController extends Controller {
  async index() {
    await this.ctx.sendBuilt('index.html', 'html', { 'Content-Security-Policy': WEB_CSP, 'Cache-Control': 'no-cache', 'Referrer-Policy': 'no-referrer' },
      { status: 503, text: 'The web client is not built: run `npm run build:web` (npm run dev, npm test and npm run build do it).' });
  }

  /** The service worker (web/public/sw.js → web/dist/sw.js) at the root, so its scope is the whole client. */
  async serviceWorker() {
    // browsers check a worker for updates at most daily anyway; no-cache makes them ask each time
    await this.ctx.sendBuilt('sw.js', 'application/javascript', { 'Cache-Control': 'no-cache', 'Content-Security-Policy': "default-src 'self'" }, { status: 404 });
  }
}
