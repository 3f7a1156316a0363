import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

export const ROLES = [ 'user', 'admin' ] as const;

export interface UserDoc {
  _id: Types.ObjectId;
  username: string;
  usernameLower: string;
  email?: string;
  emailLower?: string;
  nickname: string;
  nicknameLower: string;
  avatar: string;
  intro: string;
  passwordHash: string;
  question: string;
  answerHash: string;
  profile: Record<string, unknown>;
  role: typeof ROLES[number];
  presence: string;
  /** the team's own id for this user, set through the server API (PROTOCOL §9) */
  externalId?: string;
  createdAt: Date;
  updatedAt: Date;
}

export default (app: Application): Model<UserDoc> => {
  const { Schema } = app.mongoose;

  const UserSchema = new Schema<UserDoc>({
    username: { type: String, required: true },
    // lower-cased copies carry the case-insensitive unique indexes and the prefix search
    usernameLower: { type: String, required: true, unique: true },
    email: { type: String },
    emailLower: { type: String },
    nickname: { type: String, default: '' },
    nicknameLower: { type: String, default: '' },
    avatar: { type: String, default: '' },
    intro: { type: String, default: '' },
    passwordHash: { type: String, required: true },
    question: { type: String, default: '' },
    answerHash: { type: String, default: '' },
    profile: { type: Schema.Types.Mixed, default: {} },
    role: { type: String, enum: ROLES, default: 'user' },
    presence: { type: String, default: 'online' },
    externalId: { type: String },
  }, {
    timestamps: true,
    minimize: false,
    versionKey: false,
    toJSON: {
      // never leave the server: hashes and the lower-cased index copies
      transform(_doc: unknown, ret: Record<string, unknown>) {
        delete ret.passwordHash;
        delete ret.answerHash;
        delete ret.usernameLower;
        delete ret.emailLower;
        delete ret.nicknameLower;
        return ret;
      },
    },
  });

  // one account per e-mail address (login accepts an e-mail); absent e-mails do not collide.
  // sparse rather than partialFilterExpression, which FerretDB does not implement
  UserSchema.index({ emailLower: 1 }, { unique: true, sparse: true });
  UserSchema.index({ nicknameLower: 1 });
  // one user per external id (server API upserts); users made by signup have none
  UserSchema.index({ externalId: 1 }, { unique: true, sparse: true });

  return app.mongoose.model<UserDoc>('User', UserSchema);
};
