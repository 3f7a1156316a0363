import { IoController } from '../../../lib/plugin/io/lib/controller';

export default class SsoController extends IoController {
  /** Keep-alive of the waiting PC: answers 'pong' (PROTOCOL §5). */
  async qrlogin() {
    await this.app.outbox.answer(this.ctx, { event: 'qrlogin', reply: 'qrlogin' }, async () => 'pong' as const);
  }
}
