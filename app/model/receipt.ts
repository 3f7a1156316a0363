import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';
import type { TypeU } from '../../lib/conversation-ids';

/**
 * A read receipt waiting for its message's sender, who was offline when it was read
 * (`readed_message` hands them over oldest first and empties the queue).
 */
export interface ReceiptDoc {
  _id: Types.ObjectId;
  /** who is told: the message's sender */
  user: Types.ObjectId;
  message: Types.ObjectId;
  fp: string;
  timelineId: string;
  typeu: TypeU;
  seq: number;
  readed: Types.ObjectId[];
  createdAt: Date;
}

export default (app: Application): Model<ReceiptDoc> => {
  const { Schema } = app.mongoose;
  const ReceiptSchema = new Schema<ReceiptDoc>({
    user: { type: Schema.Types.ObjectId, required: true },
    message: { type: Schema.Types.ObjectId, required: true },
    fp: { type: String, required: true },
    timelineId: { type: String, required: true },
    typeu: { type: Number, required: true },
    seq: { type: Number, required: true },
    readed: { type: [ Schema.Types.ObjectId ], default: [] },
  }, { timestamps: { createdAt: true, updatedAt: false }, versionKey: false });
  // one queued receipt per message: later readers are added to `readed`
  ReceiptSchema.index({ user: 1, message: 1 }, { unique: true });
  return app.mongoose.model<ReceiptDoc>('Receipt', ReceiptSchema);
};
