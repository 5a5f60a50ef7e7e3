/**
 * GET /api/v1/health of the whole module in-process against a real influxd (v1) and the v2
 * emulator backed by it: 503 while InfluxDB is stopped or refuses the credentials, 200 once it
 * writes again, and never a secret in the answer.
 */
import path from 'node:path';
import { expect } from 'chai';
import { createAuditModule, type AuditModule } from '../../src/lib/audit-module.js';
import type { AuditEventsConfig } from '../../src/lib/config/schema.js';
import { validateAuditEventsConfig } from '../../src/lib/config/validate.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { eventually } from '../support/eventually.js';
import { freshEnvelope } from '../support/fixtures.js';
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

function configWith(destination: Record<string, unknown>): AuditEventsConfig {
  const dir = tempDir('module-health');
  const result = validateAuditEventsConfig({
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
  if (!result.ok) throw new Error(result.problems.join('\n'));
  return result.config;
}

describe('the module health endpoint', function () {
  this.timeout(120000);
  let influxd: InfluxdServer;
  let module: AuditModule | null = null;
  let baseUrl = '';

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

  async function start(config: AuditEventsConfig): Promise<void> {
    module = createAuditModule(config, { logger: createSilentLogger(), version: '0.0.0-test' });
    const address = await module.start();
    if (!address) throw new Error('the module did not start');
    baseUrl = `http://127.0.0.1:${address.port}`;
  }

  const auth = { authorization: `Bearer ${API_TOKEN}` };

  async function post(): Promise<string> {
    const envelope = freshEnvelope('object.view.duration', { timestamp: new Date().toISOString() });
    const response = await fetch(`${baseUrl}/api/v1/audit-event`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(envelope),
    });
    expect(response.status).to.equal(202);
    return envelope.eventId;
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
    const { credentials } = influxd;
    await start(
      configWith({
        type: 'influxdb, parquet',
        influxdb: {
          host: '127.0.0.1',
          port: influxd.port,
          version: 1,
          writeFrequency: 50,
          v1Config: {
            dbName: 'health_outage',
            auth: { enable: true, username: credentials?.username, password: credentials?.password },
          },
        },
      }),
    );
    const before = [await post()];
    const healthy = await healthWith(200, 'health 200 once InfluxDB wrote');
    expect(healthy.body.status).to.equal('ok');
    expect(destination(healthy, 'influxdb')).to.include({ healthy: true, lastError: null });

    await influxd.halt();
    let during: string[] = [];
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
});
