'use strict';
/**
 * The database ceiling for `npm run bench` (issue #19): the database alone, driven from this process
 * with no server in between, doing the command mix one delivered message cost our server in a load.
 *
 * The mix comes from our server's own counters over the load's measured window (its /metrics, which
 * count on MongoDB and FerretDB alike): per delivered message, the documents written per collection
 * and operation, each in the batch size the server used (documents per write command), and the
 * reads (`find` and the like) per delivered message. Each write stream runs one command at a time, as
 * the server's writers do (one group commit, one delivery flush, one pointer flush at a time), and
 * bulk updates of all streams one at a time (as the server's: lib/bulk-write.ts), reads 8
 * at a time, all together and kept in the mix's proportions (the reads never ahead of the writes, but
 * only the writes bound it). Documents are copies of the server's own (a sample of
 * each collection, with fresh values in every uniquely indexed field) in a fresh database with the
 * same indexes. Updates are `$max` on the sample's numeric fields by `_id` (our cursors' shape); reads
 * are finds by `_id`; deletes are by an `_id` (finding nothing: the hot path deletes next to nothing). What it gives: delivered messages per second the database allows for that mix,
 * the bound no server in front of it can pass.
 */
const { MongoClient, ObjectId } = require('mongodb');

const SEED = 1000;
/** reads run several at once, as the server's do (coalesced loaders, look-ups 8 at a time); writes one at a time */
const READS_IN_FLIGHT = 8;
const CHUNK = 40; // FerretDB: well below its 100-writes deadlock
const sleep = ms => new Promise(r => setTimeout(r, ms));

/** The same server, another database name (a URL's path is its database). */
function withDatabase(url, name) {
  const m = /^(mongodb(?:\+srv)?:\/\/[^/?]+)(\/[^?]*)?(\?.*)?$/.exec(url);
  if (!m) throw new Error(`not a MongoDB URL: ${url}`);
  return `${m[1]}/${name}${m[3] || ''}`;
}

/**
 * The mix of one load from our server's counter deltas over its window: `written` and `commands`
 * keyed `collection|op`, `reads` keyed by command name; null when nothing was delivered.
 */
function mixOf({ written, commands, reads }, delivered) {
  if (!delivered) return null;
  const writes = Object.entries(written).filter(([ , docs ]) => docs > 0).map(([ key, docs ]) => {
    const [ collection, op ] = key.split('|');
    return { collection, op, perMsg: docs / delivered, batch: Math.max(1, Math.round(docs / (commands[key] || 1))) };
  });
  const readsPerMsg = Object.values(reads).reduce((a, b) => a + b, 0) / delivered;
  return { writes, readsPerMsg };
}

/** `value` made unique for the n-th copy (a uniquely indexed field). */
function fresh(value, n) {
  if (value instanceof ObjectId) return new ObjectId();
  if (typeof value === 'number') return 1e9 + n;
  if (typeof value === 'string') return `${value}~c${n}`;
  return value;
}

/** Measures the mix for `seconds`; { deliveredPerSec, binding: the stream that bounds it }. */
async function measureCeiling({ sourceUrl, targetUrl, mix, seconds }) {
  const source = await MongoClient.connect(sourceUrl);
  // a command stuck past 60 s (a deadlocked FerretDB) fails the ceiling instead of hanging the bench
  const target = await MongoClient.connect(targetUrl, { maxPoolSize: 20, socketTimeoutMS: 60000 });
  try {
    const from = source.db();
    const db = target.db();
    await db.dropDatabase();
    const names = [ ...new Set([ ...mix.writes.map(w => w.collection), 'memberships' ]) ];
    const kinds = {};
    for (const name of names) {
      const samples = await from.collection(name).find().limit(SEED).toArray();
      const indexes = (await from.collection(name).indexes().catch(() => [])).filter(ix => ix.name !== '_id_');
      for (const ix of indexes) {
        const options = { name: ix.name, unique: !!ix.unique, sparse: !!ix.sparse };
        if (ix.partialFilterExpression) options.partialFilterExpression = ix.partialFilterExpression;
        await db.collection(name).createIndex(ix.key, options);
      }
      const unique = [ ...new Set(indexes.filter(ix => ix.unique).flatMap(ix => Object.keys(ix.key)).filter(k => !k.includes('.'))) ];
      let n = 0;
      const copy = () => {
        const doc = { ...samples[n % samples.length], _id: samples.length && typeof samples[0]._id === 'string' ? `c${n}-${new ObjectId()}` : new ObjectId() };
        for (const k of unique) doc[k] = fresh(doc[k], n);
        n++;
        return doc;
      };
      // the documents updates and reads find by `_id`
      const seeded = samples.length ? Array.from({ length: Math.min(SEED, Math.max(samples.length, 100)) }, copy) : [];
      for (let i = 0; i < seeded.length; i += CHUNK) await db.collection(name).insertMany(seeded.slice(i, i + CHUNK));
      const numeric = samples.length ? Object.keys(samples[0]).filter(k => k !== '_id' && typeof samples[0][k] === 'number' && !unique.includes(k)).slice(0, 3) : [];
      kinds[name] = { copy, ids: seeded.map(d => d._id), numeric };
    }

    let counter = 0;
    const update = kind => (kind.numeric.length ? { $max: Object.fromEntries(kind.numeric.map(k => [ k, ++counter ])) } : { $set: { touchedAt: new Date() } });
    const pick = kind => kind.ids[Math.floor(Math.random() * kind.ids.length)];
    const writes = mix.writes.filter(w => kinds[w.collection].ids.length || w.op === 'insert').map(w => ({ ...w, done: 0, parallel: 1 }));
    // reads keep pace with the writes (never ahead), but only the writes bound the ceiling: a read by
    // `_id` waits behind a write on FerretDB, and a server's reads are off its write path
    const streams = mix.readsPerMsg > 0 ? [ ...writes, { collection: 'memberships', op: 'find', perMsg: mix.readsPerMsg, batch: 1, done: 0, parallel: READS_IN_FLIGHT } ] : writes;
    // bulk updates of every stream take turns, as all of the server's do (lib/bulk-write.ts): FerretDB
    // deadlocks for good with about 100 updates in flight (three streams' batches of 50 and 25 would be)
    let updating = Promise.resolve();
    const inTurn = fn => {
      const run = updating.then(fn);
      updating = run.catch(() => undefined);
      return run;
    };
    const progress = s => s.done / s.perMsg;
    const slowest = () => Math.min(...writes.map(progress));
    const one = async s => {
      const kind = kinds[s.collection];
      const coll = db.collection(s.collection);
      switch (s.op) {
        case 'insert': await coll.insertMany(Array.from({ length: s.batch }, kind.copy), { ordered: true }); break;
        case 'update': await inTurn(() => coll.bulkWrite(Array.from({ length: s.batch }, () => ({ updateOne: { filter: { _id: pick(kind) }, update: update(kind) } })), { ordered: true })); break;
        case 'findAndModify': await coll.findOneAndUpdate({ _id: pick(kind) }, update(kind)); break;
        case 'delete': await coll.deleteOne({ _id: new ObjectId() }); break;
        default: await coll.findOne({ _id: pick(kind) });
      }
      s.done += s.batch;
    };
    const until = Date.now() + seconds * 1000;
    const started = Date.now();
    await Promise.all(streams.flatMap(s => Array.from({ length: s.parallel }, async () => {
      while (Date.now() < until) {
        // kept in proportion: a stream ahead of the slowest write stream by more than its batches in flight waits
        if (progress(s) - slowest() > s.batch * s.parallel / s.perMsg) { await sleep(1); continue; }
        await one(s);
      }
    })));
    const elapsed = (Date.now() - started) / 1000;
    const binding = writes.reduce((a, b) => (progress(a) <= progress(b) ? a : b));
    return { deliveredPerSec: progress(binding) / elapsed, binding: `${binding.collection} ${binding.op} (batch ${binding.batch})` };
  } finally {
    await target.db().dropDatabase().catch(() => {});
    await Promise.all([ source.close(), target.close() ]);
  }
}

module.exports = { measureCeiling, mixOf, withDatabase };
