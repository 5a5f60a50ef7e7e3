/**
 * What an administrator watches, of the whole module in-process against a real influxd (v1) and
 * the v2 emulator backed by it: GET /api/v1/health (503 while InfluxDB is stopped or refuses the
 * credentials, 200 once it writes again, never a secret), GET /metrics moving as events are
 * accepted, refused and dead-lettered, and the queue metrics written to InfluxDB as Butler SOS
 * writes them.
 */
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createAuditModule, type AuditModule } from '../../src/lib/audit-module.js';
import type { AuditEventsConfig } from '../../src/lib/config/schema.js';
import { validConfig } from '../support/config.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { eventually } from '../support/eventually.js';
import { freshEnvelope } from '../support/fixtures.js';
import { readDeadLetters } from '../support/journal-files.js';
import { startInfluxEmulator } from '../support/influx-emulator/index.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';
import { tempDir } from '../support/module-process.js';

const API_TOKEN = 'api-token-7d1c0e5b';
const INFLUX_PASSWORD = 'influx-password-93af';
const V2_TOKEN = 'v2-token-5be210';

interface HealthAnswer {
  status: number;
  text: string;
  body: { status: string; destinations: Array<Record<string, unknown>> };
}

function configWith(
  destination: Record<string, unknown>,
  more: Record<string, unknown> = {},
): AuditEventsConfig {
  const dir = tempDir('module-health');
  return validConfig({
    ...more,
    port: 0,
    apiToken: API_TOKEN,
    rateLimit: { enable: false },
    shutdownTimeoutMs: 2000,
    journal: { directory: path.join(dir, 'journal') },
    destination: {
      ...destination,
      parquet: { exportDirectory: path.join(dir, 'parquet'), writeFrequency: 50 },
    },
  });
}

describe('the module health and metrics', function () {
  this.timeout(120000);
  let influxd: InfluxdServer;
  let module: AuditModule | null = null;
  let baseUrl = '';
  let journalDirectory = '';

  before(async () => {
    influxd = await startInfluxd({ authEnabled: true });
  });
  after(async () => {
    await influxd.stop();
  });
  afterEach(async () => {
    await module?.stop();
    module = null;
  });

  /** Both destinations; InfluxDB v1 on the influxd with its credentials. */
  function influxAndParquet(dbName: string): Record<string, unknown> {
    const { credentials } = influxd;
    return {
      type: 'influxdb, parquet',
      influxdb: {
        host: '127.0.0.1',
        port: influxd.port,
        version: 1,
        writeFrequency: 50,
        v1Config: {
          dbName,
          auth: { enable: true, username: credentials?.username, password: credentials?.password },
        },
      },
    };
  }

  async function start(config: AuditEventsConfig): Promise<void> {
    journalDirectory = config.journal.directory;
    module = createAuditModule(config, { logger: createSilentLogger(), version: '0.0.0-test' });
    const address = await module.start();
    if (!address) throw new Error('the module did not start');
    baseUrl = `http://127.0.0.1:${address.port}`;
  }

  const auth = { authorization: `Bearer ${API_TOKEN}` };

  async function post(type = 'object.view.duration'): Promise<string> {
    const envelope = freshEnvelope(type, { timestamp: new Date().toISOString() });
    const response = await send(JSON.stringify(envelope));
    expect(response.status).to.equal(202);
    return envelope.eventId;
  }

  async function send(
    body: string,
    headers: Record<string, string> = { ...auth, 'content-type': 'application/json' },
  ) {
    const response = await fetch(`${baseUrl}/api/v1/audit-event`, { method: 'POST', headers, body });
    await response.arrayBuffer();
    return response;
  }

  /** The scraped samples, keyed by series as Prometheus prints them (`name{label="value"}`). */
  async function scrape(): Promise<Map<string, number>> {
    const response = await fetch(`${baseUrl}/metrics`, { headers: auth });
    expect(response.status).to.equal(200);
    const samples = new Map<string, number>();
    for (const line of (await response.text()).split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const at = line.lastIndexOf(' ');
      samples.set(line.slice(0, at), Number(line.slice(at + 1)));
    }
    return samples;
  }

  async function health(): Promise<HealthAnswer> {
    const response = await fetch(`${baseUrl}/api/v1/health`, { headers: auth });
    const text = await response.text();
    return { status: response.status, text, body: JSON.parse(text) as HealthAnswer['body'] };
  }

  function destination(answer: HealthAnswer, id: string): Record<string, unknown> {
    const found = answer.body.destinations.find((candidate) => candidate.id === id);
    if (!found) throw new Error(`no destination ${id} in ${answer.text}`);
    return found;
  }

  async function healthWith(status: number, what: string): Promise<HealthAnswer> {
    return eventually(
      async () => {
        const answer = await health();
        return answer.status === status ? answer : undefined;
      },
      90000,
      what,
    );
  }

  function expectNoSecret(answer: HealthAnswer): void {
    for (const secret of [API_TOKEN, INFLUX_PASSWORD, V2_TOKEN]) expect(answer.text).not.to.include(secret);
  }

  async function storedIds(db: string): Promise<string[]> {
    const rows = await influxd.query(db, 'SELECT "eventId" FROM audit_event');
    return rows.map((row) => String(row.eventId));
  }

  it('answers 503 while InfluxDB is stopped and 200 once it is back, with every event written', async () => {
    await start(configWith(influxAndParquet('health_outage')));
    const before = [await post()];
    const healthy = await healthWith(200, 'health 200 once InfluxDB wrote');
    expect(healthy.body.status).to.equal('ok');
    expect(destination(healthy, 'influxdb')).to.include({ healthy: true, lastError: null });

    await influxd.halt();
    let during: string[];
    try {
      during = [await post(), await post()];
      const down = await healthWith(503, 'health 503 while influxd is down');
      expect(down.body.status).to.equal('unhealthy');
      const influx = destination(down, 'influxdb');
      expect(influx.healthy).to.equal(false);
      expect(influx.lastError).to.match(/ECONNREFUSED|socket hang up|fetch failed/);
      expect(influx.backlog).to.be.at.least(1);
      expect(destination(down, 'parquet').healthy).to.equal(true);
      expectNoSecret(down);
    } finally {
      await influxd.restart();
    }

    const back = await healthWith(200, 'health 200 once influxd is back');
    expect(destination(back, 'influxdb')).to.include({ healthy: true, backlog: 0 });
    expect((await storedIds('health_outage')).sort()).to.deep.equal([...before, ...during].sort());
  });

  it('answers 503 naming the refusal while InfluxDB refuses the credentials, never showing a secret', async () => {
    const emulator = await startInfluxEmulator({ version: 2, influxd, token: 'the-right-token' });
    try {
      await start(
        configWith({
          type: 'influxdb',
          influxdb: {
            host: '127.0.0.1',
            port: emulator.port,
            version: 2,
            writeFrequency: 50,
            v2Config: { org: 'my-org', bucket: 'health_v2', description: 'audit', token: V2_TOKEN },
          },
        }),
      );
      const id = await post();
      const refused = await healthWith(503, 'health 503 while the token is refused');
      expect(String(destination(refused, 'influxdb').lastError)).to.match(/401|unauthorized/i);
      expectNoSecret(refused);

      emulator.setToken(V2_TOKEN);
      const fixed = await healthWith(200, 'health 200 once the token is accepted');
      expect(destination(fixed, 'influxdb')).to.include({ healthy: true, backlog: 0 });
      expectNoSecret(fixed);
      expect(await storedIds('health_v2')).to.deep.equal([id]);
    } finally {
      await module?.stop();
      module = null;
      await emulator.stop();
    }
  });
  it('moves its metrics as events are accepted, refused and dead-lettered, and writes the queue metrics to InfluxDB', async () => {
    const db = 'metrics_flow';
    await influxd.ddl(`CREATE DATABASE ${db}`);
    // durationMs already holds text in this week's shard: InfluxDB refuses an object.view.duration
    // point for its content.
    const seeded = await influxd.write(
      db,
      `audit_event,eventType=seed durationMs="text" ${Date.now()}`,
      'ms',
    );
    expect(seeded.status).to.equal(204);
    const startedAt = Date.now() / 1000;
    await start(
      configWith(influxAndParquet(db), {
        queue: {
          queueMetrics: {
            influxdb: { enable: true, writeFrequency: 200, tags: [{ name: 'qs_env', value: 'test' }] },
          },
        },
      }),
    );

    for (let index = 0; index < 3; index++) await post('navigation.sheet.loaded');
    const poisoned = await post('object.view.duration');
    const invalid = freshEnvelope('navigation.sheet.loaded', { eventId: 'not-a-uuid' });
    expect((await send(JSON.stringify(invalid))).status).to.equal(422);
    expect((await send('{}', { 'content-type': 'application/json' })).status).to.equal(401);
    expect((await send('hello', { ...auth, 'content-type': 'text/plain' })).status).to.equal(415);

    const samples = await eventually(
      async () => {
        const scraped = await scrape();
        return scraped.get('audit_destination_rejected_events_total{destination="influxdb"}') === 1 &&
          scraped.get('audit_log_backlog_events') === 0
          ? scraped
          : undefined;
      },
      30000,
      'the poisoned event to be dead-lettered and the rest written',
    );
    const received = (type: string, outcome: string) =>
      samples.get(`audit_events_received_total{type="${type}",outcome="${outcome}"}`);
    expect(received('navigation.sheet.loaded', 'accepted')).to.equal(3);
    expect(received('object.view.duration', 'accepted')).to.equal(1);
    expect(received('navigation.sheet.loaded', 'refused')).to.equal(1);
    expect(received('unread', 'refused')).to.equal(2);
    for (const [status, count] of [
      [202, 4],
      [422, 1],
      [401, 1],
      [415, 1],
    ])
      expect(samples.get(`audit_http_responses_total{status="${status}"}`), `status ${status}`).to.equal(
        count,
      );
    expect(samples.get('audit_destination_written_events_total{destination="influxdb"}')).to.equal(3);
    expect(samples.get('audit_destination_written_events_total{destination="parquet"}')).to.equal(4);
    expect(samples.get('audit_destination_rejected_events_total{destination="parquet"}')).to.equal(0);
    expect(samples.get('audit_destination_healthy{destination="influxdb"}')).to.equal(1);
    expect(
      samples.get('audit_destination_last_success_timestamp_seconds{destination="influxdb"}'),
    ).to.be.at.least(Math.floor(startedAt));
    expect(
      samples.get('audit_destination_batch_write_duration_seconds_count{destination="influxdb"}'),
    ).to.be.at.least(1);
    expect(samples.get('audit_journal_bytes')).to.be.greaterThan(0);
    const deadLetters = readDeadLetters(journalDirectory);
    expect(deadLetters.map((record) => record.eventId)).to.deep.equal([poisoned]);

    // Butler SOS's queue metrics, summed over the points written so far: each counts its interval.
    const totals = await eventually(
      async () => {
        const [row] = await influxd.query(
          db,
          'SELECT sum("messages_received") AS received, sum("messages_queued") AS queued, ' +
            'sum("messages_dropped_total") AS dropped, sum("messages_dropped_size") AS too_large, ' +
            'sum("messages_failed") AS failed, max("dead_letters") AS dead_letters, last("journal_backlog") AS backlog ' +
            `FROM audit_events_queue WHERE queue_type = 'audit_events' AND host = '${os.hostname()}' AND qs_env = 'test'`,
        );
        return row && row.received === 7 && row.failed === 1 && row.backlog === 0 ? row : undefined;
      },
      30000,
      'the queue metrics to count every event',
    );
    expect(totals).to.include({ queued: 4, dropped: 3, too_large: 0, dead_letters: 1 });
    const fieldTypes = Object.fromEntries(
      (await influxd.query(db, 'SHOW FIELD KEYS FROM audit_events_queue')).map((row) => [
        row.fieldKey,
        row.fieldType,
      ]),
    );
    for (const integer of [
      'queue_size',
      'queue_max_size',
      'messages_received',
      'messages_dropped_rate_limit',
      'backpressure_active',
      'rate_limit_current',
    ])
      expect(fieldTypes[integer], integer).to.equal('integer');
    for (const float of ['queue_utilization_pct', 'processing_time_avg_ms', 'processing_time_p95_ms'])
      expect(fieldTypes[float], float).to.equal('float');
  });
});
