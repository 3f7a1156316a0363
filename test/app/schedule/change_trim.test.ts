import assert from 'node:assert';
import { Types } from 'mongoose';
import { app } from '../../helpers';
import { IDS_PER_MS } from '../../../lib/stores/change-registry';

describe('schedule/change_trim', () => {
  it('removes change records older than changes.keepDays and keeps newer ones', async () => {
    await app.ready();
    const { Change } = app.model;
    const day = 24 * 3600 * 1000;
    const record = (ageMs: number) => ({
      changeId: (Date.now() - ageMs) * IDS_PER_MS, conversationId: `trim-${Date.now()}`, message: new Types.ObjectId(), seq: 1, kind: 'edit', at: new Date(),
    });
    const [ old, recent ] = await Change.insertMany([ record((app.config.changes.keepDays + 2) * day), record(day) ]);
    await app.runSchedule('change_trim');
    assert.strictEqual(await Change.countDocuments({ _id: old._id }), 0);
    assert.strictEqual(await Change.countDocuments({ _id: recent._id }), 1);
  });
});
