import type { Model } from 'mongoose';
import { AppError, ErrorCode } from '../../lib/errors';
import { oid } from '../../lib/ids';
import type { SearchHit, SearchResult } from '../../lib/schemas/wire';
import type { MembershipDoc } from '../model/membership';
import { MessageType, toWire, type MessageDoc } from '../model/message';
import { match, parseQuery, storeTerms } from './search-index';

/** store reads of one search when many candidates turn out not to match (hidden, or a CJK run not contiguous) */
const ROUNDS = 5;
/** MongoDB's (and FerretDB's) error code for a query past its `maxTimeMS` */
const MAX_TIME_EXPIRED = 50;

/**
 * Message search (§8 `GET /api/messages/search`): text messages of the given memberships that this
 * user can see, newest first (by `_id`), every word of the query in them. One query on the
 * `{conversationId, terms, _id}` index: the user's conversations (a room from where they joined),
 * the exact terms with `$all`, the prefixes as `^` ranges, `type` 1 (a recall empties the terms
 * anyway); then each candidate is confirmed and highlighted (app/message/search-index.ts), and what
 * the user hid is left out. `next` is the `_id` to continue before.
 */
export class MessageSearch {
  constructor(private readonly models: () => { Message: Model<MessageDoc> }, private readonly config: { maxTimeMs: number }) {}

  /** The search; a store that takes longer than `maxTimeMs` for it makes it 503 / 50000. */
  async search(memberships: MembershipDoc[], input: { q: string; before?: string; limit: number }): Promise<SearchResult> {
    try {
      return await this.run(memberships, input);
    } catch (err) {
      if ((err as { code?: number }).code !== MAX_TIME_EXPIRED) throw err;
      throw new AppError(ErrorCode.SERVER_ERROR, `the search took longer than ${this.config.maxTimeMs / 1000} s; search one conversation (timelineId) instead`, 503);
    }
  }

  private async run(memberships: MembershipDoc[], input: { q: string; before?: string; limit: number }): Promise<SearchResult> {
    const query = parseQuery(input.q);
    const terms = storeTerms(query);
    if (!terms || !memberships.length) return { docs: [] };
    const whole = memberships.filter(m => !m.joinedSeq).map(m => m.conversationId);
    const scope: Array<Record<string, unknown>> = [
      ...(whole.length ? [{ conversationId: whole.length === 1 ? whole[0] : { $in: whole } }] : []),
      // a room from where this user joined
      ...memberships.filter(m => m.joinedSeq).map(m => ({ conversationId: m.conversationId, seq: { $gt: m.joinedSeq } })),
    ];
    const filter: Record<string, unknown> = scope.length === 1 ? { ...scope[0] } : { $or: scope };
    filter.type = MessageType.TEXT;
    if (terms.all.length) filter.terms = { $all: terms.all };
    if (terms.prefixes.length) filter.$and = terms.prefixes.map(p => ({ terms: { $regex: p } }));
    const hidden = new Set(memberships.flatMap(m => (m.hidden ?? []).map(String)));

    const { limit } = input;
    const batch = limit + 1;
    const hits: SearchHit[] = [];
    let before = input.before;
    let exhausted = false;
    for (let round = 0; round < ROUNDS && hits.length <= limit; round++) {
      if (before) filter._id = { $lt: oid(before) };
      const docs = await this.models().Message.find(filter, { terms: 0 }).sort({ _id: -1 }).limit(batch).maxTimeMS(this.config.maxTimeMs).lean<MessageDoc[]>();
      for (const d of docs) {
        before = String(d._id);
        if (hidden.has(before)) continue;
        const highlights = match(d.content, query);
        if (!highlights) continue;
        hits.push({ ...toWire(d), highlights });
        if (hits.length > limit) break;
      }
      if (docs.length < batch) {
        exhausted = true;
        break;
      }
    }
    if (hits.length > limit) return { docs: hits.slice(0, limit), next: hits[limit - 1]._id };
    // rounds ran out with candidates left: the client may go on from the last one looked at
    return exhausted || !before || before === input.before ? { docs: hits } : { docs: hits, next: before };
  }
}
