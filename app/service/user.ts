import { createHash } from 'node:crypto';
import { Service } from 'egg';
import gravatar from 'gravatar';
import { AppError, ErrorCode } from '../../lib/errors';
import { isDuplicateKey } from '../../lib/duplicate-key';
import type { SignupInput } from '../../lib/schemas/auth';
import type { UpdateMeInput } from '../../lib/schemas/social';
import type { UpsertUserInput } from '../../lib/schemas/integration';
import type { UserDoc } from '../model/user';
import { isObjectId } from '../../lib/ids';

/** The password hash of users made by the server API: no password verifies against it, so they sign in only through the team's backend. */
const NO_PASSWORD = '!';

/** What anyone may see of a user. */
export interface PublicUser {
  _id: string;
  username: string;
  nickname: string;
  avatar: string;
  intro: string;
}

/** The projection for lean reads of public fields (lean results skip the model's toJSON). */
export const PUBLIC_FIELDS = { _id: 1, username: 1, nickname: 1, avatar: 1, intro: 1 } as const;

/** a lean read with PUBLIC_FIELDS (and `presence` when asked for) */
export type PublicDoc = Pick<UserDoc, '_id' | 'username' | 'nickname' | 'avatar' | 'intro'> & Partial<Pick<UserDoc, 'presence'>>;

export const publicUser = (u: PublicDoc): PublicUser =>
  ({ _id: String(u._id), username: u.username, nickname: u.nickname, avatar: u.avatar, intro: u.intro });

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
      if (isDuplicateKey(err)) {
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
    if (by.id !== undefined && isObjectId(by.id)) return User.findById(by.id);
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

  /** Changes the caller's own account; the schema allows only the fields a user may change. */
  async updateMe(userId: string, input: UpdateMeInput) {
    // the schema asks for it with these fields; wrong → 401 / 20007 (counted like a login failure)
    if (input.email !== undefined || input.question !== undefined) await this.service.auth.checkPassword(userId, input.currentPassword ?? '');
    const set: Record<string, unknown> = {};
    if (input.nickname !== undefined) Object.assign(set, { nickname: input.nickname, nicknameLower: input.nickname.toLowerCase() });
    if (input.email !== undefined) Object.assign(set, { email: input.email, emailLower: input.email.toLowerCase() });
    if (input.avatar !== undefined) set.avatar = input.avatar;
    if (input.intro !== undefined) set.intro = input.intro;
    if (input.profile !== undefined) set.profile = input.profile;
    if (input.question !== undefined && input.answer !== undefined) {
      Object.assign(set, { question: input.question, answerHash: await this.service.auth.hashAnswer(input.answer) });
    }
    try {
      await this.ctx.model.User.updateOne({ _id: userId }, { $set: set });
    } catch (err) {
      if (isDuplicateKey(err)) throw new AppError(ErrorCode.DUPLICATE_VALUE, 'email is already taken');
      throw err;
    }
    return this.get(userId);
  }

  /**
   * Creates or updates the user with this external id (the server API, PROTOCOL §9). Created
   * without a password (sign-ins come from the team's backend) and, without a `username`, with one
   * derived from the external id. Username and e-mail stay unique (409 / 10004). Two racing
   * creations of one external id meet at its unique index, and the second becomes an update.
   */
  async upsertExternal(externalId: string, input: UpsertUserInput): Promise<{ user: UserDoc; created: boolean }> {
    const { User } = this.ctx.model;
    const set: Record<string, unknown> = {};
    if (input.username !== undefined) Object.assign(set, { username: input.username, usernameLower: input.username.toLowerCase() });
    if (input.nickname !== undefined) Object.assign(set, { nickname: input.nickname, nicknameLower: input.nickname.toLowerCase() });
    if (input.email !== undefined) Object.assign(set, { email: input.email, emailLower: input.email.toLowerCase() });
    if (input.avatar !== undefined) set.avatar = input.avatar;
    if (input.profile !== undefined) set.profile = input.profile;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const existing = await User.findOne({ externalId }, { _id: 1 }).lean<{ _id: unknown }>();
        if (existing) {
          if (Object.keys(set).length) await User.updateOne({ _id: existing._id }, { $set: set });
          return { user: (await User.findById(existing._id))!.toJSON() as UserDoc, created: false };
        }
        const username = input.username ?? `x_${createHash('sha256').update(externalId).digest('hex').slice(0, 16)}`;
        const nickname = input.nickname ?? username;
        const user = await User.create({
          username, usernameLower: username.toLowerCase(), nickname, nicknameLower: nickname.toLowerCase(),
          email: input.email, emailLower: input.email?.toLowerCase(),
          avatar: input.avatar ?? (input.email ? gravatar.url(input.email, { s: '200', d: 'identicon', protocol: 'https' }) : ''),
          passwordHash: NO_PASSWORD, profile: input.profile ?? {}, externalId,
        });
        return { user: user.toJSON() as UserDoc, created: true };
      } catch (err: any) {
        if (!isDuplicateKey(err)) throw err;
        // a racing creation of this external id (its derived username collides too) makes this an
        // update on the second turn; otherwise the name or e-mail is someone else's
        if (attempt > 0 || !await User.exists({ externalId })) {
          throw new AppError(ErrorCode.DUPLICATE_VALUE, `${/email/i.test(String(err.message)) ? 'email' : 'username'} is already taken`);
        }
      }
    }
    throw new AppError(ErrorCode.SERVER_ERROR, 'the user changed meanwhile, try again');
  }

  /** The user with this external id (server API); 404 / 20005 when there is none. */
  async byExternalId(externalId: string) {
    const user = await this.ctx.model.User.findOne({ externalId }, { _id: 1 }).lean<{ _id: unknown }>();
    if (!user) throw new AppError(ErrorCode.USER_NOT_EXIST, 'no user with this external id');
    return String(user._id);
  }

  /** Public fields of one user; 404 / 20005 when there is none. */
  async publicProfile(id: string): Promise<PublicUser> {
    const user = await this.ctx.model.User.findById(id, PUBLIC_FIELDS).lean<PublicDoc>();
    if (!user) throw new AppError(ErrorCode.USER_NOT_EXIST, 'user does not exist');
    return publicUser(user);
  }

  /** Public fields of many users in one query, by id; unknown ids are absent. */
  async publicUsers(ids: string[]): Promise<Map<string, PublicUser>> {
    if (!ids.length) return new Map();
    const users = await this.ctx.model.User.find({ _id: { $in: ids } }, PUBLIC_FIELDS).lean<PublicDoc[]>();
    return new Map(users.map(u => [ String(u._id), publicUser(u) ]));
  }

  /** Refuses (404 / 20005) unless every id names a user. */
  async requireExisting(ids: string[]) {
    if (!ids.length) return;
    const found = await this.ctx.model.User.countDocuments({ _id: { $in: ids } });
    if (found !== new Set(ids).size) throw new AppError(ErrorCode.USER_NOT_EXIST, 'user does not exist');
  }

  /**
   * Prefix search on username and nickname, case-insensitively. A range on the lower-cased
   * copies uses their indexes and needs no regular expression built from the client's text.
   */
  async search(q: string, limit: number): Promise<PublicUser[]> {
    const { User } = this.ctx.model;
    const lower = q.toLowerCase();
    const range = { $gte: lower, $lt: `${lower}\uffff` };
    const [ byUsername, byNickname ] = await Promise.all([
      User.find({ usernameLower: range }, PUBLIC_FIELDS).sort({ usernameLower: 1 }).limit(limit).lean<PublicDoc[]>(),
      User.find({ nicknameLower: range }, PUBLIC_FIELDS).sort({ nicknameLower: 1 }).limit(limit).lean<PublicDoc[]>(),
    ]);
    const seen = new Map<string, PublicUser>();
    for (const u of [ ...byUsername, ...byNickname ]) if (!seen.has(String(u._id))) seen.set(String(u._id), publicUser(u));
    return [ ...seen.values() ].slice(0, limit);
  }
}
