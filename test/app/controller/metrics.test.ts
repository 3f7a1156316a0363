import assert from 'node:assert';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { app, baseUrl, connectOk, emitAck, signup, uniqueName, waitFor } from '../../helpers';

/** GET /metrics as Prometheus does it; the body and its parsed families. */
async function scrape(token?: string) {
  const res = await fetch(`${await baseUrl()}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10000) });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), text, families: res.status === 200 ? parsePrometheusTextFormat(text) : [] };
}

/** The value of one sample of a counter or gauge with these labels; 0 when absent. */
function value(families: MetricFamily[], name: string, labels: Record<string, string> = {}) {
  const sample = families.find(f => f.name === name)?.metrics.find(m => Object.entries(labels).every(([ k, v ]) => m.labels?.[k] === v));
  return sample ? Number(sample.value) : 0;
}

/**
 * A histogram's observation count with these labels, from the registry: the parser folds labelled
 * histograms into one sample, so it only tells that the family is served (and its type).
 */
async function observations(name: string, labels: Record<string, string>) {
  const metric = app.metrics.registry.getSingleMetric(name)!;
  const sample = ((await metric.get()).values as Array<{ metricName?: string; labels: Record<string, string | number>; value: number }>).find(v => v.metricName === `${name}_count` && Object.entries(labels).every(([ k, val ]) => v.labels[k] === val));
  return sample?.value ?? 0;
}

describe('GET /metrics (PROTOCOL §9)', () => {
  const TOKEN = 'metrics-token-for-the-tests';

  before(async () => {
    await app.ready();
  });

  afterEach(() => {
    app.config.metrics.token = '';
  });

  it('is off (404) while METRICS_TOKEN is unset', async () => {
    assert.strictEqual((await scrape('anything')).status, 404);
  });

  it('needs the token: none or a wrong one is 401', async () => {
    app.config.metrics.token = TOKEN;
    assert.strictEqual((await scrape()).status, 401);
    assert.strictEqual((await scrape('wrong')).status, 401);
  });

  it('is Prometheus text that a parser reads, with every metric of §9', async () => {
    app.config.metrics.token = TOKEN;
    const { status, type, families } = await scrape(TOKEN);
    assert.strictEqual(status, 200);
    assert.match(type!, /^text\/plain; version=0\.0\.4/);
    const names = new Set(families.map(f => f.name));
    for (const name of [ 'im_sockets', 'im_socket_events_total', 'im_socket_event_duration_seconds', 'im_messages_stored_total', 'im_message_deliveries_total',
      'im_message_acks_total', 'im_db_command_duration_seconds', 'im_db_documents_written_total', 'im_db_write_commands_total', 'im_redis_commands_total', 'im_pending', 'im_pending_limit', 'im_webhook_deliveries_total',
      'im_push_sends_total', 'im_http_requests_total', 'im_queue_jobs', 'im_process_resident_memory_bytes', 'im_nodejs_eventloop_lag_seconds' ]) {
      assert.ok(names.has(name), `${name} is missing`);
    }
    assert.strictEqual(value(families, 'im_pending_limit', { work: 'chat_events' }), app.config.chatPending.perProcess);
  });

  it('every metric the Grafana dashboard (docs/grafana-dashboard.json) draws is served', async () => {
    app.config.metrics.token = TOKEN;
    const dashboard = JSON.parse(readFileSync(path.join(__dirname, '../../../docs/grafana-dashboard.json'), 'utf8'));
    const exprs: string[] = dashboard.panels.flatMap((p: { targets: Array<{ expr: string }> }) => p.targets.map(t => t.expr));
    const used = new Set(exprs.flatMap(e => e.match(/\bim_[a-z0-9_]+/g) ?? []).map(n => n.replace(/_(bucket|count|sum)$/, '')));
    const served = new Set((await scrape(TOKEN)).families.map(f => f.name));
    for (const name of used) assert.ok(served.has(name), `the dashboard uses ${name}, which /metrics does not serve`);
  });

  it('the counters move with the traffic', async () => {
    app.config.metrics.token = TOKEN;
    const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
    const [ a, b ] = await Promise.all([ connectOk({ token: alice.token }), connectOk({ token: bob.token }) ]);
    const before = (await scrape(TOKEN)).families;
    const [ ackTimesBefore, insertsBefore ] = await Promise.all([ observations('im_socket_event_duration_seconds', { event: 'c_message_ack' }), observations('im_db_command_duration_seconds', { command: 'insert', result: 'ok' }) ]);
    const got = waitFor(b, 'c_message');
    const ack = await emitAck(a, 'to', { to: bob.id, type: 1, content: 'counted', fp: uniqueName('fp') });
    await got;
    await emitAck(b, 'c_message_ack', { _id: ack.data.payload._id });
    const after = (await scrape(TOKEN)).families;
    const moved = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    assert.strictEqual(moved('im_messages_stored_total', { typeu: '1' }), 1);
    assert.strictEqual(moved('im_message_deliveries_total', { typeu: '1' }), 1);
    assert.strictEqual(moved('im_message_acks_total'), 1);
    assert.strictEqual(moved('im_socket_events_total', { event: 'to', code: '0' }), 1);
    assert.strictEqual(await observations('im_socket_event_duration_seconds', { event: 'c_message_ack' }) - ackTimesBefore, 1);
    assert.ok(await observations('im_db_command_duration_seconds', { command: 'insert', result: 'ok' }) > insertsBefore);
    assert.strictEqual(after.find(f => f.name === 'im_db_command_duration_seconds')?.type, 'HISTOGRAM');
    assert.ok(value(after, 'im_sockets', { namespace: '/chat' }) >= 2);
    assert.ok(moved('im_http_requests_total', { method: 'GET', route: '/metrics', status: '200' }) >= 1);
  });

  it('a stored message counts its insert among the documents written, by collection', async () => {
    app.config.metrics.token = TOKEN;
    const [ alice, bob ] = await Promise.all([ signup(), signup() ]);
    const a = await connectOk({ token: alice.token });
    const labels = { collection: 'messages', op: 'insert' };
    const before = (await scrape(TOKEN)).families;
    await emitAck(a, 'to', { to: bob.id, type: 1, content: 'counted', fp: uniqueName('fp') });
    const after = (await scrape(TOKEN)).families;
    assert.strictEqual(value(after, 'im_db_documents_written_total', labels) - value(before, 'im_db_documents_written_total', labels), 1);
    assert.strictEqual(value(after, 'im_db_write_commands_total', labels) - value(before, 'im_db_write_commands_total', labels), 1);
  });

  it('a refused event is counted with its code', async () => {
    app.config.metrics.token = TOKEN;
    const alice = await signup();
    const socket = await connectOk({ token: alice.token });
    const before = value((await scrape(TOKEN)).families, 'im_socket_events_total', { event: 'to', code: '20002' });
    await emitAck(socket, 'to', { to: 'nobody' });
    assert.strictEqual(value((await scrape(TOKEN)).families, 'im_socket_events_total', { event: 'to', code: '20002' }) - before, 1);
  });
});
