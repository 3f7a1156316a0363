import { Controller } from 'egg';
import { deviceIdBody, deviceIdParam } from '../../lib/schemas/qrcode';

export default class QrcodeController extends Controller {
  async create() {
    const { ctx } = this;
    ctx.ok(await ctx.service.qrcode.create());
  }

  /** For the confirm page, before the user acts: which computer asks (address, browser) and when. */
  async show() {
    const { ctx } = this;
    const { deviceId } = ctx.validate(deviceIdParam, ctx.params);
    ctx.ok(await ctx.service.qrcode.describe(deviceId));
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
