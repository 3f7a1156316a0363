import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

export interface SessionDoc {
  /** 128 random bits as 32 hex digits (SESSION_ID): nothing about it can be guessed from other ids */
  _id: string;
  user: Types.ObjectId;
  refreshHash: string;
  /** SHA-256 of the refresh tokens this session issued before the current one, newest last (at most ROTATED_KEPT) */
  rotatedHashes: string[];
  revokedAt: Date | null;
  revokedReason: string;
  expiresAt: Date;
  userAgent: string;
  ip: string;
}

/** A session id: 128 random bits as 32 hex digits. */
export const SESSION_ID = /^[0-9a-f]{32}$/;

/** how many earlier refresh tokens of a session are remembered to recognise their reuse */
export const ROTATED_KEPT = 50;

/**
 * A login session. Access tokens carry its id; its refresh token is stored only as a hash and
 * rotates on every use, and the hashes of the tokens it replaced are kept, so presenting one of
 * those again is recognised as reuse (a stolen token used after its owner refreshed). Revoked
 * sessions stay until they expire.
 */
export default (app: Application): Model<SessionDoc> => {
  const { Schema } = app.mongoose;

  const SessionSchema = new Schema<SessionDoc>({
    _id: { type: String, required: true },
    user: { type: Schema.Types.ObjectId, ref: 'User', required: true, index: true },
    refreshHash: { type: String, required: true },
    rotatedHashes: { type: [ String ], default: [] },
    revokedAt: { type: Date, default: null },
    revokedReason: { type: String, default: '' },
    expiresAt: { type: Date, required: true, index: true },
    userAgent: { type: String, default: '' },
    ip: { type: String, default: '' },
  }, { timestamps: true, versionKey: false });

  return app.mongoose.model<SessionDoc>('Session', SessionSchema);
};
