import type { Application } from 'egg';
import { rateLimits } from '../config/rate-limits';
import type { ApiScope } from './model/api_key';

export default (app: Application) => {
  const { router, controller } = app;
  const auth = app.middleware.auth();
  const admin = app.middleware.admin();
  // the route's rate limits from config/rate-limits.ts (after `auth`, so per-user limits know the user)
  const limited = app.middleware.rateLimit();

  // the web client (PROTOCOL §1); its hashed assets are under /assets/ (config.static)
  router.get('/', controller.web.index);
  router.get('/sw.js', controller.web.serviceWorker);
  router.get('/healthz', controller.health.alive);
  router.get('/readyz', controller.health.ready);

  router.post('/api/signup', limited, controller.auth.signup);
  router.post('/api/login', limited, controller.auth.login);
  router.post('/api/validate', controller.auth.validate);
  router.post('/api/token/refresh', limited, controller.auth.refresh);
  router.post('/api/logout', auth, controller.auth.logout);
  router.get('/api/password/question', controller.auth.passwordQuestion);
  router.post('/api/password/reset', limited, controller.auth.resetPassword);

  router.get('/api/conversations', auth, controller.message.conversations);
  router.patch('/api/conversations/:timelineId', auth, controller.message.settings);
  router.get('/api/messages', auth, controller.message.history);
  router.get('/api/messages/pinned', auth, controller.message.pinned);
  router.get('/api/messages/search', auth, controller.message.search);
  router.delete('/api/messages/:id', auth, controller.message.hide);

  const chat = app.io.controller.chat;
  app.io.of('/chat')
    .route('to', chat.to)
    .route('c_message_ack', chat.ack)
    .route('offline_message', chat.offline)
    .route('recent_conversation', chat.recent)
    .route('history_message', chat.history)
    .route('to_reader', chat.read)
    .route('readed_message', chat.receipts)
    .route('to_typing', chat.typing)
    .route('to_undo', chat.recall)
    .route('to_edit', chat.edit)
    .route('to_react', chat.react)
    .route('to_pin', chat.pin)
    .route('sync_changes', chat.syncChanges);
  router.get('/api/users/me', auth, controller.user.me);
  router.patch('/api/users/me', auth, limited, controller.user.updateMe);
  router.put('/api/users/me/presence', auth, controller.user.presence);
  router.get('/api/users', auth, controller.user.search);
  router.get('/api/users/:id', auth, controller.user.show);

  router.post('/api/friends/requests', auth, limited, controller.friend.request);
  router.get('/api/friends/requests', auth, controller.friend.requests);
  router.post('/api/friends/requests/:userId/accept', auth, controller.friend.accept);
  router.post('/api/friends/requests/:userId/refuse', auth, controller.friend.refuse);
  router.get('/api/friends', auth, controller.friend.list);
  router.patch('/api/friends/:id', auth, controller.friend.update);
  router.delete('/api/friends/:id', auth, controller.friend.remove);

  router.get('/api/blocks', auth, controller.block.list);
  router.post('/api/blocks/:id', auth, controller.block.create);
  router.delete('/api/blocks/:id', auth, controller.block.destroy);

  router.post('/api/rooms', auth, limited, controller.room.create);
  router.get('/api/rooms', auth, controller.room.list);
  router.get('/api/rooms/:id', auth, controller.room.show);
  router.patch('/api/rooms/:id', auth, controller.room.update);
  router.delete('/api/rooms/:id', auth, controller.room.destroy);
  router.post('/api/rooms/:id/join', auth, controller.room.join);
  router.post('/api/rooms/:id/leave', auth, controller.room.leave);
  router.post('/api/rooms/:id/members', auth, controller.room.members);

  app.io.of('/chat').route('c_online', app.io.controller.presence.online);

  router.get('/api/qrcode', limited, controller.qrcode.create);
  router.get('/api/qrcode/:deviceId', auth, controller.qrcode.show);
  router.post('/api/qrcode/scan', auth, controller.qrcode.scan);
  router.post('/api/qrcode/confirm', auth, controller.qrcode.confirm);
  app.io.of('/sso').route('qrlogin', app.io.controller.sso.qrlogin);

  router.post('/api/upload', auth, controller.file.upload);
  router.get('/files/:id', controller.file.download);

  router.post('/api/admin/notices', auth, admin, controller.admin.notice);
  router.get('/api/admin/stats', auth, admin, controller.admin.stats);
  router.post('/api/admin/webhooks', auth, admin, controller.webhook.create);
  router.get('/api/admin/webhooks', auth, admin, controller.webhook.list);
  router.delete('/api/admin/webhooks/:id', auth, admin, controller.webhook.destroy);
  router.get('/api/admin/webhooks/:id/deliveries', auth, admin, controller.webhook.deliveries);

  // the server API (PROTOCOL §9): API keys with a scope, never user tokens
  const server = (scope: ApiScope) => app.middleware.apiKey({ scope });
  router.put('/api/server/users/:externalId', server('users'), limited, controller.server.upsertUser);
  router.post('/api/server/users/:externalId/sessions', server('users'), limited, controller.server.startSession);
  router.post('/api/server/messages', server('messages'), limited, controller.server.sendMessage);
  router.post('/api/server/notices', server('notices'), limited, controller.server.notice);
  router.post('/api/server/rooms', server('rooms'), limited, controller.server.createRoom);
  router.post('/api/server/rooms/:id/members', server('rooms'), limited, controller.server.roomMembers);

  router.get('/api/push/vapid-key', controller.push.vapidKey);
  router.post('/api/push/subscriptions', auth, limited, controller.push.subscribe);
  router.delete('/api/push/subscriptions', auth, controller.push.unsubscribe);

  router.get('/metrics', controller.metrics.show);
  router.get('/docs', controller.apiDocs.page);
  router.get('/api/openapi.json', controller.apiDocs.openapi);
  router.get('/api/asyncapi.json', controller.apiDocs.asyncapi);

  // every route the rate-limit table names must exist and carry `limited` (a typo would drop a limit silently)
  for (const entry of Object.keys(rateLimits.http)) {
    const [ method, path ] = entry.split(' ');
    const layer = router.stack.find(l => l.path === path && l.methods.includes(method));
    if (!(layer?.stack as unknown[] | undefined)?.includes(limited)) throw new Error(`config/rate-limits.ts names ${entry}, which is not a route with the rateLimit middleware`);
  }
};
