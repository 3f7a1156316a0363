import { Service } from 'egg';
import gravatar from 'gravatar';
import { AppError, ErrorCode } from '../../lib/errors';
import type { SignupInput } from '../../lib/schemas/auth';

export default class UserService extends Service {
  /** Creates an account; username and e-mail are unique case-insensitively (10004). */
  async create(input: SignupInput, hashes: { passwordHash: string; answerHash: string }) {
    const { User } = this.ctx.model;
    const email = input.email?.trim();
    try {
      return await User.create({
        username: input.username,
        usernameLower: input.username.toLowerCase(),
        email,
        emailLower: email?.toLowerCase(),
        nickname: input.nickname || input.username,
        nicknameLower: (input.nickname || input.username).toLowerCase(),
        avatar: email ? gravatar.url(email, { s: '200', d: 'identicon', protocol: 'https' }) : '',
        passwordHash: hashes.passwordHash,
        question: input.question || '',
        answerHash: hashes.answerHash,
        profile: input.profile || {},
      });
    } catch (err: any) {
      if (err?.code === 11000) {
        const field = /email/i.test(String(err.message)) ? 'email' : 'username';
        throw new AppError(ErrorCode.DUPLICATE_VALUE, `${field} is already taken`);
      }
      throw err;
    }
  }

  /** The account a login names by username, e-mail or id; null when there is none. */
  async findForLogin(by: { username?: string; email?: string; id?: string }) {
    const { User } = this.ctx.model;
    if (by.username !== undefined) return User.findOne({ usernameLower: by.username.toLowerCase() });
    if (by.email !== undefined) return User.findOne({ emailLower: by.email.trim().toLowerCase() });
    if (by.id !== undefined && /^[0-9a-f]{24}$/i.test(by.id)) return User.findById(by.id);
    return null;
  }

  findByUsername(username: string) {
    return this.ctx.model.User.findOne({ usernameLower: username.toLowerCase() });
  }

  async get(id: string) {
    const user = await this.ctx.model.User.findById(id);
    if (!user) throw new AppError(ErrorCode.USER_NOT_EXIST, 'user does not exist');
    return user;
  }
}
