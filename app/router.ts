import type { Application } from 'egg';

export default (app: Application) => {
  const { router, controller } = app;
  const auth = app.middleware.auth();

  router.get('/healthz', controller.health.alive);
  router.get('/readyz', controller.health.ready);

  router.post('/api/signup', controller.auth.signup);
  router.post('/api/login', controller.auth.login);
  router.post('/api/validate', controller.auth.validate);
  router.post('/api/token/refresh', controller.auth.refresh);
  router.post('/api/logout', auth, controller.auth.logout);
  router.get('/api/password/question', controller.auth.passwordQuestion);
  router.post('/api/password/reset', controller.auth.resetPassword);

  router.get('/api/conversations', auth, controller.message.conversations);
  router.get('/api/messages', auth, controller.message.history);
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
    .route('to_undo', chat.recall);

};
