import { isDeepStrictEqual } from 'node:util';
import type { Connection, Model } from 'mongoose';

/**
 * Whether the database answers filters other than `{_id: <value>}` through its indexes. FerretDB 1.x
 * on SQLite does not (its explain says `filterPushdown: false` for an equality on a field; `$in` on
 * `_id` too reads the whole collection), yet it keeps every index up to date on every insert and
 * update. MongoDB, and FerretDB on PostgreSQL (which pushes equalities down), do.
 */
export async function filtersUseIndexes(connection: Connection): Promise<boolean> {
  const plan = await connection.db.command({ explain: { find: 'indexprobe', filter: { probe: 'x' } }, verbosity: 'queryPlanner' });
  return plan.filterPushdown !== false;
}

/**
 * Builds the indexes the models' schemas declare (the connection's `autoIndex` is off). Unique ones
 * always: they are part of correctness (idempotent sends, one membership per user and
 * conversation). The others only where the database reads them; where it does not, one an earlier
 * run built is dropped, since each write would still pay for it. Returns the indexes left out.
 */
export async function buildIndexes(models: Array<Model<any>>, indexesUsed: boolean): Promise<number> {
  let leftOut = 0;
  await Promise.all(models.map(async model => {
    // creates the collection; the indexes are built here, not by Mongoose
    await model.init();
    const existing = indexesUsed ? [] : await model.collection.indexes();
    for (const [ fields, options ] of model.schema.indexes()) {
      if (indexesUsed || options.unique) {
        await model.collection.createIndex(fields as Record<string, 1 | -1>, options);
        continue;
      }
      leftOut++;
      const built = existing.find(index => isDeepStrictEqual(index.key, fields));
      if (built?.name) await model.collection.dropIndex(built.name);
    }
  }));
  return leftOut;
}
