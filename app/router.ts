import type { Application } from 'egg';

export default (app: Application) => {
  const { router, controller } = app;
  const auth = app.middleware.auth();
  const admin = app.middleware.admin();

  router.get('/healthz', controller.health.alive);
  router.get('/readyz', controller.health.ready);

  router.post('/api/signup', controller.auth.signup);
  router.post('/api/login', controller.auth.login);
  router.post('/api/validate', controller.auth.validate);
  router.post('/api/token/refresh', controller.auth.refresh);
  router.post('/api/logout', auth, controller.auth.logout);
  router.get('/api/password/question', controller.auth.passwordQuestion);
  router.post('/api/password/reset', controller.auth.resetPassword);

  router.get('/api/qrcode', controller.qrcode.create);
  router.post('/api/qrcode/scan', auth, controller.qrcode.scan);
  router.post('/api/qrcode/confirm', auth, controller.qrcode.confirm);
  app.io.of('/sso').route('qrlogin', app.io.controller.sso.qrlogin);

  router.post('/api/upload', auth, controller.file.upload);
  router.get('/files/:id', controller.file.download);

  router.post('/api/admin/notices', auth, admin, controller.admin.notice);
  router.get('/api/admin/stats', auth, admin, controller.admin.stats);

};
