import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

/** A user acknowledged a notice (`c_message_ack`). The unique index makes a repeated ack a no-op. */
export interface NoticeReceiptDoc {
  _id: Types.ObjectId;
  user: Types.ObjectId;
  notice: Types.ObjectId;
}

export default (app: Application): Model<NoticeReceiptDoc> => {
  const { Schema } = app.mongoose;
  const NoticeReceiptSchema = new Schema<NoticeReceiptDoc>({
    user: { type: Schema.Types.ObjectId, required: true },
    notice: { type: Schema.Types.ObjectId, required: true },
  }, { versionKey: false });
  NoticeReceiptSchema.index({ user: 1, notice: 1 }, { unique: true });
  return app.mongoose.model<NoticeReceiptDoc>('NoticeReceipt', NoticeReceiptSchema);
};
