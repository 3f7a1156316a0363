import type { Application } from 'egg';
import type { Model } from 'mongoose';
import type { WireMessage } from '../../lib/schemas/wire';

/** seqs per page: a page stays small to read and to rewrite (about 30 KB of copies) */
export const MESSAGE_PAGE_SEQS = 64;

/**
 * A conversation's messages by seq, as clients get them: one document per conversation and block
 * of `MESSAGE_PAGE_SEQS` seqs, `_id` `"<conversationId>:<block>"`, appended to by the pointer
 * writer a moment after each commit (app/message/pointer-writer.ts): each new message as stored,
 * and for a message changed since (edit, recall, reaction, pin) its newest `rev` only, so a page
 * stays bounded however often its messages change (the reader reads such a message itself). A
 * pull for a user who was away longer than the
 * recent-messages cache reaches reads these pages instead of the messages: on FerretDB (SQLite)
 * every read of a collection, by `_id` too, costs in proportion to the collection, and this one
 * holds one document per 64 messages (issue #19). Seqs no page has (messages stored before the
 * pages, or by a process that stopped before its pointer flush) are read from the messages.
 */
export interface MessagePageDoc {
  _id: string;
  /** each a message as clients get it (JSON: one string each is cheap on FerretDB), in the order written */
  entries: string[];
  /** the newest entry's sendTime (retention removes pages older than what it keeps) */
  newest: Date;
  /** `s<seq>` → the newest `rev` of a message changed after it was stored */
  revs?: Record<string, number>;
}

export const pageIdOf = (conversationId: string, seq: number) => `${conversationId}:${Math.floor(seq / MESSAGE_PAGE_SEQS)}`;
export const encodeEntry = (wire: WireMessage) => JSON.stringify(wire);
export const decodeEntry = (text: string): WireMessage => JSON.parse(text);
/** the field of `revs` for a seq (a name, not an array index) */
export const revKey = (seq: number) => `s${seq}`;

export default (app: Application): Model<MessagePageDoc> => {
  const { Schema } = app.mongoose;
  const MessagePageSchema = new Schema<MessagePageDoc>({
    _id: { type: String },
    entries: { type: [ String ], default: [] },
    newest: { type: Date, required: true },
    revs: { type: Schema.Types.Mixed },
  }, { versionKey: false, _id: false });
  // retention
  MessagePageSchema.index({ newest: 1 });
  return app.mongoose.model<MessagePageDoc>('MessagePage', MessagePageSchema);
};
