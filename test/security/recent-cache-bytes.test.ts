import assert from 'node:assert';
import { Stores } from '../../lib/stores';
import type { WireMessage } from '../../lib/schemas/wire';

/**
 * Issue #16 finding 12: the recent-messages cache was bounded by count only (100 messages × 10,000
 * conversations, each message up to 64 KiB: gigabytes). Now a worker's cache is bounded by bytes
 * (config.message.recentCacheBytes) and messages over 8 KB are not kept at all.
 */
const msg = (conversationId: string, seq: number, content: string): WireMessage => ({
  _id: `${seq}`.padStart(24, '0'), fp: `fp${seq}`, from: 'a', to: 'b', type: 1, typeu: 1, content,
  conversationId, timelineId: 'a@b', seq, sendTime: seq,
});

describe('security: the recent-messages cache is bounded by bytes (finding 12)', () => {
  it('a conversation written after the byte budget was spent pushes out the least recent ones', async () => {
    const cache = new Stores(null, 'test').recentMessages({ maxBytes: 256 * 1024 });
    const text = 'x'.repeat(3000);
    // 100 conversations × 20 messages of ~6 KB in memory: far over 256 KB
    for (let c = 0; c < 100; c++) await cache.append(Array.from({ length: 20 }, (_, i) => msg(`c${c}`, i + 1, text)));
    assert.strictEqual(await cache.page('c0', 20, 0, Infinity, 5), null, 'the oldest conversation is still held');
    assert.strictEqual((await cache.page('c99', 20, 0, Infinity, 5))?.length, 5);
  });

  it('a message larger than 8 KB is not kept: a page that includes it comes from the database', async () => {
    const cache = new Stores(null, 'test').recentMessages({ maxBytes: 64 * 1024 * 1024 });
    await cache.append([ msg('big', 1, 'small'), msg('big', 2, 'y'.repeat(64 * 1024)) ]);
    assert.strictEqual(await cache.page('big', 2, 0, Infinity, 2), null);
  });
});
