import assert from 'node:assert';
import net from 'node:net';
import { DbProbe } from '../../lib/db-probe';

describe('lib/db-probe (the readiness check\'s own connection)', () => {
  it('answers when the database does', async () => {
    const probe = new DbProbe(process.env.MONGODB_URL!, 2000);
    try {
      await probe.ping();
    } finally {
      await probe.close();
    }
  });

  it('a database that accepts connections but never answers (paused) fails the ping within its bound', async () => {
    // a TCP server that takes the connection and says nothing, like a SIGSTOPped database
    const held: net.Socket[] = [];
    const mute = net.createServer(s => { held.push(s); });
    await new Promise<void>(resolve => mute.listen(0, '127.0.0.1', resolve));
    const probe = new DbProbe(`mongodb://127.0.0.1:${(mute.address() as net.AddressInfo).port}/x`, 500);
    const started = Date.now();
    try {
      await assert.rejects(probe.ping());
      assert.ok(Date.now() - started < 1500, `took ${Date.now() - started} ms`);
    } finally {
      for (const s of held) s.destroy();
      await probe.close();
      await new Promise(resolve => mute.close(resolve));
    }
  });
});
