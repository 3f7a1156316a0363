import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

export interface SessionDoc {
  _id: Types.ObjectId;
  user: Types.ObjectId;
  refreshHash: string;
  revokedAt: Date | null;
  revokedReason: string;
  expiresAt: Date;
  userAgent: string;
  ip: string;
}

/**
 * A login session. Access tokens carry its id; its refresh token is stored only as a hash and
 * rotates on every use. Revoked sessions stay until they expire, so a reused refresh token is
 * recognised as reuse (and not as an unknown token) for the session's whole lifetime.
 */
export default (app: Application): Model<SessionDoc> => {
  const { Schema } = app.mongoose;

  const SessionSchema = new Schema<SessionDoc>({
    user: { type: Schema.Types.ObjectId, ref: 'User', required: true, index: true },
    refreshHash: { type: String, required: true },
    revokedAt: { type: Date, default: null },
    revokedReason: { type: String, default: '' },
    expiresAt: { type: Date, required: true, index: true },
    userAgent: { type: String, default: '' },
    ip: { type: String, default: '' },
  }, { timestamps: true, versionKey: false });

  return app.mongoose.model<SessionDoc>('Session', SessionSchema);
};
