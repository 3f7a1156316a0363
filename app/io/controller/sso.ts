import { Controller } from 'egg';

export default class SsoController extends Controller {
  /** Keep-alive of the waiting PC: answers 'pong' (PROTOCOL §5). */
  async qrlogin() {
    await this.app.outbox.answer(this.ctx, { event: 'qrlogin', reply: 'qrlogin' }, async () => 'pong' as const);
  }
}
