import { Controller } from 'egg';
import { deviceIdBody } from '../../lib/schemas/qrcode';

export default class QrcodeController extends Controller {
  async create() {
    const { ctx } = this;
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
