import { Controller } from 'egg';
import { asyncApiDocument } from '../../lib/api/asyncapi';
import { clientEvents, serverPushes } from '../../lib/api/events';
import { openApiDocument } from '../../lib/api/openapi';
import { restRoutes } from '../../lib/api/rest';

/** Built once per process (the configured limits do not change while it runs); a few hundred KB of JSON. */
let openApi: string | null = null;
let asyncApi: ReturnType<typeof asyncApiDocument> | null = null;

/**
 * `GET /api/openapi.json` and `GET /api/asyncapi.json` (PROTOCOL §9): the API documents generated
 * from the route and event tables in lib/api/, plain JSON (no envelope).
 */
export default class ApiDocsController extends Controller {
  async openapi() {
    const { ctx, app } = this;
    openApi ??= JSON.stringify(openApiDocument(restRoutes(app.config.message), { version: app.config.pkg.version }));
    ctx.set('Cache-Control', 'no-cache');
    ctx.type = 'json';
    ctx.body = openApi;
  }

  async asyncapi() {
    const { ctx, app } = this;
    asyncApi ??= asyncApiDocument(clientEvents(app.config.message), serverPushes, { version: app.config.pkg.version, host: 'localhost' });
    ctx.set('Cache-Control', 'no-cache');
    // the server is the one this request reached
    ctx.body = { ...asyncApi, servers: { default: { ...asyncApi.servers.default, host: ctx.host } } };
  }
}
