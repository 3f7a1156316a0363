import type { Application } from 'egg';
import type { Model } from 'mongoose';

/** seqs per page: a page of a busy conversation stays a few KB (about 40 bytes an entry) */
export const MESSAGE_PAGE_SEQS = 256;

/**
 * Where a conversation's messages are by seq: one document per conversation and block of
 * `MESSAGE_PAGE_SEQS` seqs, `_id` `"<conversationId>:<block>"`, written with the conversation
 * pointers a moment after each commit (app/message/pointer-writer.ts). A pull for a user who was
 * away longer than the recent-messages cache reaches reads the pages of their oldest pending seqs
 * and then those messages, all by `_id`: on FerretDB (SQLite) every other filter reads the whole
 * messages collection (issue #19). Entries a process did not write (it stopped before its pointer
 * flush, or the messages are older than the pages) leave a gap, and the reader falls back to the
 * range query for that conversation.
 */
export interface MessagePageDoc {
  _id: string;
  /** `"<seq> <message _id> <sendTime ms>"`, in the order written (one string each: cheap on FerretDB) */
  entries: string[];
  /** the newest entry's sendTime (retention removes pages older than what it keeps) */
  newest: Date;
}

export interface PageEntry {
  seq: number;
  id: string;
  time: number;
}

export const pageIdOf = (conversationId: string, seq: number) => `${conversationId}:${Math.floor(seq / MESSAGE_PAGE_SEQS)}`;
export const encodeEntry = (e: PageEntry) => `${e.seq} ${e.id} ${e.time}`;

export function decodeEntry(text: string): PageEntry {
  const [ seq, id, time ] = text.split(' ');
  return { seq: Number(seq), id, time: Number(time) };
}

export default (app: Application): Model<MessagePageDoc> => {
  const { Schema } = app.mongoose;
  const MessagePageSchema = new Schema<MessagePageDoc>({
    _id: { type: String },
    entries: { type: [ String ], default: [] },
    newest: { type: Date, required: true },
  }, { versionKey: false, _id: false });
  // retention
  MessagePageSchema.index({ newest: 1 });
  return app.mongoose.model<MessagePageDoc>('MessagePage', MessagePageSchema);
};
