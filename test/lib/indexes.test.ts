import assert from 'node:assert';
import mongoose, { type Connection } from 'mongoose';
import { buildIndexes, filtersUseIndexes } from '../../lib/indexes';

/** A model with one unique and one plain index, in a database of its own. */
function thingModel(connection: Connection) {
  const schema = new mongoose.Schema({ key: String, group: String });
  schema.index({ key: 1 }, { unique: true });
  schema.index({ group: 1 });
  return connection.model('Thing', schema);
}

const indexKeys = async (model: mongoose.Model<any>) => (await model.collection.indexes()).map(index => JSON.stringify(index.key)).sort();

describe('lib/indexes (which indexes a database gets)', () => {
  let connection: Connection;
  beforeEach(async () => {
    connection = await mongoose.createConnection(process.env.MONGODB_URL!, { dbName: `indexes_${process.pid}_${Date.now()}`, autoIndex: false }).asPromise();
  });
  afterEach(async () => {
    await connection.dropDatabase();
    await connection.close();
  });

  it('the embedded database (FerretDB on SQLite) reads no index but _id', async () => {
    assert.strictEqual(await filtersUseIndexes(connection), false);
  });

  it('where field indexes are not read, only the unique ones are built', async () => {
    const Thing = thingModel(connection);
    assert.strictEqual(await buildIndexes([ Thing ], false), 1);
    assert.deepStrictEqual(await indexKeys(Thing), [ '{"_id":1}', '{"key":1}' ]);
  });

  it('where field indexes are not read, one an earlier run built is dropped', async () => {
    const Thing = thingModel(connection);
    await Thing.createCollection();
    await Thing.collection.createIndex({ group: 1 });
    await buildIndexes([ Thing ], false);
    assert.deepStrictEqual(await indexKeys(Thing), [ '{"_id":1}', '{"key":1}' ]);
  });

  it('where field indexes are read, every declared index is built', async () => {
    const Thing = thingModel(connection);
    assert.strictEqual(await buildIndexes([ Thing ], true), 0);
    assert.deepStrictEqual(await indexKeys(Thing), [ '{"_id":1}', '{"group":1}', '{"key":1}' ]);
  });

  it('a unique index still refuses a duplicate', async () => {
    const Thing = thingModel(connection);
    await buildIndexes([ Thing ], false);
    await Thing.create({ key: 'a', group: 'g' });
    await assert.rejects(Thing.create({ key: 'a', group: 'g' }), (err: { code?: number }) => err.code === 11000);
  });
});
