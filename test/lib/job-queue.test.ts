import assert from 'node:assert';
import { Types } from 'mongoose';
import { app, sleep } from '../helpers';
import { JobQueue, attemptResults, type AttemptDoc, type JobHandler, type ItemResult } from '../../lib/job-queue';
import { send } from '../../lib/outbound-http';
import { WebhookReceiver } from '../webhook-receiver';

/**
 * The delivery queue (lib/job-queue.ts) on the suite's database, with workers that are separate
 * queue objects in this process: what matters is that they share nothing but the database.
 */
describe('lib/job-queue', () => {
  const receiver = new WebhookReceiver();
  // long enough that a busy machine does not time requests out (which would be retries of their own)
  const ITEM_TIMEOUT = 1500;
  const workers: JobQueue[] = [];

  /** A handler that POSTs each item to the receiver: 2xx is done, anything else is retried. */
  const handler: JobHandler = {
    concurrency: 4,
    itemTimeoutMs: ITEM_TIMEOUT,
    retryForMs: 60_000,
    async deliver(job) {
      return Promise.all(job.items.map(async (item): Promise<ItemResult> => {
        try {
          const reply = await send({ url: receiver.url, headers: { 'content-type': 'application/json', 'im-webhook-id': item.ref }, body: JSON.stringify(item), timeoutMs: ITEM_TIMEOUT, policy: { refusePrivate: false }, protocols: [ 'http:' ] });
          return { ref: item.ref, outcome: reply.status < 300 ? 'ok' : 'retry', status: reply.status };
        } catch (err) {
          return { ref: item.ref, outcome: 'retry', error: String(err) };
        }
      }));
    },
  };

  const worker = () => {
    const q = new JobQueue({
      jobs: () => app.model.OutboundJob,
      bodies: () => app.model.OutboundJobBody,
      attempts: () => app.model.DeliveryAttempt,
      handlers: { test: handler },
      backoff: () => ({ baseMs: 30, maxMs: 100 }),
      maxInFlight: () => 8,
      pollMs: () => 25,
      logError: (msg, err) => { throw new Error(`${msg}: ${err}`); },
    });
    workers.push(q);
    return q;
  };

  const pending = () => app.model.OutboundJob.countDocuments({ kind: 'test' });

  before(async () => {
    await app.ready();
    await receiver.start();
  });

  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop();
    await app.model.OutboundJob.deleteMany({ kind: 'test' });
    receiver.received.length = 0;
    receiver.maxConcurrent = 0;
    receiver.answer = () => ({ status: 200 });
  });

  after(() => receiver.stop());

  /** The victim was killed while its first request hangs: the survivor sends the job once its lease has passed, once. */
  async function survivorTakesOver(victim: JobQueue, target: string) {
    await receiver.until(() => receiver.received.length === 1);
    victim.kill();
    const survivor = worker();
    // the lease holds it from the survivor while the victim's attempt could still be running
    assert.strictEqual(await survivor.claimRound(), 0);
    survivor.start();
    await receiver.until(() => receiver.received.length === 2, 5000);
    await survivor.stop();
    assert.strictEqual(receiver.maxConcurrent, 1);
    assert.strictEqual(await pending(), 0);
    // the victim's attempt never finished (a claimed one left its record unfinished, one taken at enqueue none)
    const finished = (await app.model.DeliveryAttempt.find({ target }).lean<AttemptDoc[]>()).filter(a => a.outcome);
    assert.deepStrictEqual(finished.map(a => [ a.n, a.worker, a.outcome ]), [ [ 2, survivor.worker, 'done' ] ]);
  }

  it('a worker killed mid-delivery loses nothing: another sends the job once its lease has passed', async function() {
    this.timeout(10000);
    const victim = worker();
    // the first request hangs (the victim is "killed" while it is open); later ones succeed
    receiver.answer = (_r, nth) => (nth === 1 ? 'hang' : { status: 200 });
    await victim.enqueue([{ kind: 'test', target: 'claimed-kill', items: [{ ref: 'evt-kill' }] }]);
    assert.strictEqual(await victim.claimRound(), 1);
    await survivorTakesOver(victim, 'claimed-kill');
  });

  it('a worker that works the queue sends what it enqueues at once and logs the attempt when it ends', async function() {
    this.timeout(10000);
    const q = worker();
    q.start();
    await q.enqueue([{ kind: 'test', target: 'direct', items: [{ ref: 'evt-direct' }] }]);
    await receiver.until(() => receiver.received.length === 1);
    for (let i = 0; i < 100 && await pending(); i++) await sleep(50);
    await q.stop();
    const attempts = await app.model.DeliveryAttempt.find({ target: 'direct' }).lean();
    assert.deepStrictEqual(attempts.map((a: any) => [ a.n, a.worker, a.outcome, attemptResults(a).map(r => r.ref) ]), [ [ 1, q.worker, 'done', [ 'evt-direct' ] ] ]);
  });

  it('a worker killed during a first attempt it took when enqueueing loses nothing', async function() {
    this.timeout(10000);
    const victim = worker();
    receiver.answer = (_r, nth) => (nth === 1 ? 'hang' : { status: 200 });
    victim.start();
    // stored claimed: nobody else takes it while the victim's attempt could still be running
    await victim.enqueue([{ kind: 'test', target: 'direct-kill', items: [{ ref: 'evt-direct-kill' }] }]);
    await survivorTakesOver(victim, 'direct-kill');
  });

  it('a worker takes its own kinds of jobs past older due jobs of a kind it does not handle', async function() {
    this.timeout(10000);
    const old = new Date(Date.now() - 60_000);
    await app.model.OutboundJob.insertMany(Array.from({ length: 20 }, (_, i) => ({ kind: 'unhandled', target: `other-${i}`, size: 1, attempts: 0, runAt: old, firstAt: old })));
    try {
      const q = worker();
      // enqueued before it runs: stored due, behind the others by runAt
      await q.enqueue([{ kind: 'test', target: 'behind-others', items: [{ ref: 'evt-behind' }] }]);
      q.start();
      await receiver.until(() => receiver.received.some(r => r.id === 'evt-behind'), 5000);
    } finally {
      await app.model.OutboundJob.deleteMany({ kind: 'unhandled' });
    }
  });

  it('two workers racing over many jobs: every item delivered, no attempt sent twice, none at once', async function() {
    this.timeout(20000);
    const a = worker();
    const b = worker();
    // the first tries of every tenth event fail, so retries race too
    receiver.answer = (r, nth) => (nth === 1 && r.id.endsWith('0') ? { status: 500 } : { status: 200 });
    const refs = Array.from({ length: 40 }, (_, i) => `evt-race-${i}`);
    await a.enqueue(refs.map(ref => ({ kind: 'test', target: 'race', items: [{ ref }] })));
    a.start();
    b.start();
    await receiver.until(() => refs.every(ref => receiver.received.some(r => r.id === ref && r.json.ref === ref)) && receiver.received.length >= 44, 15000);
    for (let i = 0; i < 100 && await pending(); i++) await sleep(50);
    // what is in flight finishes, and its attempt records are complete
    await Promise.all([ a.stop(), b.stop() ]);
    assert.strictEqual(await pending(), 0);
    assert.strictEqual(receiver.maxConcurrent, 1);
    // every attempt was sent exactly once: as many requests for an event as attempts of its job
    const attempts = await app.model.DeliveryAttempt.find({ target: 'race' }).lean<AttemptDoc[]>();
    for (const ref of refs) {
      const claimed = attempts.filter(a => attemptResults(a).some(r => r.ref === ref)).length;
      assert.strictEqual(receiver.received.filter(r => r.id === ref).length, claimed, ref);
      assert.ok(claimed >= (ref.endsWith('0') ? 2 : 1), ref);
    }
  });

  it('a job still failing past its retry horizon is given up (and logged so)', async function() {
    this.timeout(10000);
    const q = worker();
    receiver.answer = () => ({ status: 500 });
    const saved = handler.retryForMs;
    handler.retryForMs = 200;
    try {
      await q.enqueue([{ kind: 'test', target: 'horizon', items: [{ ref: 'evt-horizon' }] }]);
      q.start();
      for (let i = 0; i < 100 && await pending(); i++) await sleep(50);
      await q.stop();
    } finally {
      handler.retryForMs = saved;
    }
    assert.strictEqual(await pending(), 0);
    const last = await app.model.DeliveryAttempt.findOne({ target: 'horizon' }).sort({ n: -1 }).lean<any>();
    assert.strictEqual(last.outcome, 'gave-up');
  });

  it('only failed items of a job are tried again', async function() {
    this.timeout(10000);
    const q = worker();
    receiver.answer = (r, nth) => (r.id === 'evt-b' && nth === 1 ? { status: 502 } : { status: 200 });
    await q.enqueue([{ kind: 'test', target: 'partial', items: [{ ref: 'evt-a' }, { ref: 'evt-b' }, { ref: 'evt-c' }] }]);
    q.start();
    await receiver.until(() => receiver.received.length === 4);
    for (let i = 0; i < 100 && await pending(); i++) await sleep(50);
    assert.deepStrictEqual(receiver.received.map(r => r.id).sort(), [ 'evt-a', 'evt-b', 'evt-b', 'evt-c' ]);
  });

  it('a finished job leaves no body behind', async function() {
    this.timeout(10000);
    const q = worker();
    await q.enqueue([{ kind: 'test', target: 'bodies', items: [{ ref: 'evt-body' }] }]);
    const [ head ] = await app.model.OutboundJob.find({ kind: 'test', target: 'bodies' }).lean();
    assert.ok(await app.model.OutboundJobBody.exists({ _id: head._id }), 'the body is stored with the job');
    q.start();
    await receiver.until(() => receiver.received.length === 1);
    for (let i = 0; i < 100 && await app.model.OutboundJobBody.exists({ _id: head._id }); i++) await sleep(50);
    assert.strictEqual(await app.model.OutboundJobBody.exists({ _id: head._id }), null);
  });

  it('the clean-up removes old bodies whose job is gone, and keeps the others', async () => {
    const q = worker();
    const twoHoursAgo = Math.floor(Date.now() / 1000) - 7200;
    const orphan = Types.ObjectId.createFromTime(twoHoursAgo);
    const kept = Types.ObjectId.createFromTime(twoHoursAgo - 1);
    const fresh = new Types.ObjectId();
    await app.model.OutboundJobBody.insertMany([ orphan, kept, fresh ].map(_id => ({ _id, items: Buffer.from('[]') })));
    await app.model.OutboundJob.create({ _id: kept, kind: 'test', target: 'cleanup', size: 0, attempts: 0, runAt: new Date(Date.now() + 3600_000), firstAt: new Date() });
    assert.strictEqual(await q.removeOrphanBodies(3600_000), 1);
    const left = (await app.model.OutboundJobBody.find({ _id: { $in: [ orphan, kept, fresh ] } }).lean()).map(b => String(b._id)).sort();
    assert.deepStrictEqual(left, [ String(kept), String(fresh) ].sort());
    await app.model.OutboundJobBody.deleteMany({ _id: { $in: [ kept, fresh ] } });
  });
});
