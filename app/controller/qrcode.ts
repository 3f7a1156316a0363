import { Controller } from 'egg';
import { AppError, ErrorCode } from '../../lib/errors';
import { deviceIdBody } from '../../lib/schemas/qrcode';

export default class QrcodeController extends Controller {
  async create() {
    const { ctx } = this;
    try {
      await this.app.limiter('qrcode').consume(ctx.ip);
    } catch (res: any) {
      if (res instanceof Error) throw res;
      const err = new AppError(ErrorCode.RATE_LIMITED, 'too many QR codes, try again later') as AppError & { retryAfter?: number };
      err.retryAfter = Math.ceil(res.msBeforeNext / 1000);
      throw err;
    }
    ctx.ok(await ctx.service.qrcode.create());
  }

  async scan() {
    const { ctx } = this;
    const { deviceId } = ctx.validate(deviceIdBody, ctx.request.body);
    await ctx.service.qrcode.scan(deviceId, ctx.auth.userId);
    ctx.ok(null);
  }

  async confirm() {
    const { ctx } = this;
    const { deviceId } = ctx.validate(deviceIdBody, ctx.request.body);
    await ctx.service.qrcode.confirm(deviceId, ctx.auth.userId);
    ctx.ok(null);
  }
}
