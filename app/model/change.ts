import type { Application } from 'egg';
import type { Model, Types } from 'mongoose';

/** `quote`: a reply's quote emptied because the message it quotes was recalled */
export type ChangeKind = 'edit' | 'react' | 'recall' | 'pin' | 'quote' | 'hide' | 'removed';

/**
 * A change feed record (PROTOCOL §8 `sync_changes`): "this message of this conversation changed", one
 * per change whatever the number of members. `changeId` increases across the deployment
 * (app/message/changes.ts says how, and why a reader never skips one). A record names the message;
 * the reader hands out the message as it is stored then. `user`: a change of that user alone (a hide).
 */
export interface ChangeDoc {
  _id: Types.ObjectId;
  changeId: number;
  conversationId: string;
  message: Types.ObjectId;
  /** the message's seq: a room member sees changes of messages after they joined */
  seq: number;
  kind: ChangeKind;
  user?: Types.ObjectId;
  at: Date;
}

export default (app: Application): Model<ChangeDoc> => {
  const { Schema } = app.mongoose;
  const ChangeSchema = new Schema<ChangeDoc>({
    changeId: { type: Number, required: true },
    conversationId: { type: String, required: true },
    message: { type: Schema.Types.ObjectId, required: true },
    seq: { type: Number, required: true },
    kind: { type: String, required: true },
    user: { type: Schema.Types.ObjectId },
    at: { type: Date, required: true },
  }, { versionKey: false });
  // a pull: the changed conversations' records after the cursor, in order
  ChangeSchema.index({ conversationId: 1, changeId: 1 });
  // trimming the oldest
  ChangeSchema.index({ changeId: 1 });
  return app.mongoose.model<ChangeDoc>('Change', ChangeSchema);
};
