import type { Application } from 'egg';
import type { Model } from 'mongoose';

/**
 * The server's VAPID key pair for Web Push (RFC 8292), made at first start when none is configured
 * (VAPID_PUBLIC_KEY / VAPID_PRIVATE_KEY): one document, `_id: 'current'`, inserted once (the first
 * worker to insert it wins; the others read it).
 */
export interface VapidKeyDoc {
  _id: string;
  publicKey: string;
  privateKey: string;
  createdAt: Date;
}

export default (app: Application): Model<VapidKeyDoc> => {
  const { Schema } = app.mongoose;
  const VapidKeySchema = new Schema<VapidKeyDoc>({
    _id: { type: String },
    publicKey: { type: String, required: true },
    privateKey: { type: String, required: true },
    createdAt: { type: Date, required: true },
  }, { versionKey: false, _id: false });
  return app.mongoose.model<VapidKeyDoc>('VapidKey', VapidKeySchema);
};
