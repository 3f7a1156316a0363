import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

/**
 * A system notice (PROTOCOL §4 `sys_notice`). A notice to everyone is this one document, however
 * many users there are; who has acknowledged it is in NoticeReceipt.
 */
export interface NoticeDoc {
  _id: Types.ObjectId;
  /** the one recipient, or null for everyone */
  to: Types.ObjectId | null;
  content: string;
  event?: string;
  createdAt: Date;
}

export default (app: Application): Model<NoticeDoc> => {
  const { Schema } = app.mongoose;
  const NoticeSchema = new Schema<NoticeDoc>({
    to: { type: Schema.Types.ObjectId, ref: 'User', default: null },
    content: { type: String, required: true },
    event: { type: String },
    createdAt: { type: Date, required: true },
  }, { versionKey: false });
  // a user's pending notices: those to them and those to everyone (to: null), oldest first
  NoticeSchema.index({ to: 1, _id: 1 });
  return app.mongoose.model<NoticeDoc>('Notice', NoticeSchema);
};
