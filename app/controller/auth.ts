import { Controller } from 'egg';
import * as schema from '../../lib/schemas/auth';

export default class AuthController extends Controller {
  async signup() {
    const { ctx } = this;
    const input = ctx.validate(schema.signupBody, ctx.request.body);
    ctx.ok(await ctx.service.auth.signup(input), 201);
  }

  async login() {
    const { ctx } = this;
    const input = ctx.validate(schema.loginBody, ctx.request.body);
    ctx.ok(await ctx.service.auth.login(input));
  }

  async validate() {
    const { ctx } = this;
    const body = ctx.validate(schema.validateBody, ctx.request.body ?? {});
    const token = body.token ?? /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1] ?? '';
    const claims = await ctx.service.auth.verifyAccessToken(token);
    ctx.ok({ user: await ctx.service.user.get(claims.userId) });
  }

  async refresh() {
    const { ctx } = this;
    const { refreshToken } = ctx.validate(schema.refreshBody, ctx.request.body);
    ctx.ok(await ctx.service.auth.refresh(refreshToken));
  }

  async logout() {
    const { ctx } = this;
    await ctx.service.auth.logout(ctx.auth.sessionId);
    ctx.ok(null);
  }

  async passwordQuestion() {
    const { ctx } = this;
    const { username } = ctx.validate(schema.questionQuery, ctx.query);
    ctx.ok({ question: await ctx.service.auth.passwordQuestion(username) });
  }

  async resetPassword() {
    const { ctx } = this;
    const input = ctx.validate(schema.resetBody, ctx.request.body);
    await ctx.service.auth.resetPassword(input);
    ctx.ok(null);
  }
}
