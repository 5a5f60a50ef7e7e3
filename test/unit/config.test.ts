import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { load } from 'js-yaml';
import { auditEventsConfigSchema } from '../../src/lib/config/schema.js';
import { parseDestinationTypes, validateAuditEventsConfig } from '../../src/lib/config/validate.js';
import { validConfig } from '../support/config.js';

/** Every key path the schema defines, e.g. 'destination.parquet.maxBatchSize'. */
function schemaKeyPaths(node: unknown, prefix = ''): string[] {
  const properties = (node as { properties?: Record<string, unknown> }).properties ?? {};
  return Object.entries(properties).flatMap(([key, child]) => {
    const keyPath = prefix ? `${prefix}.${key}` : key;
    const items = (child as { items?: unknown }).items;
    return [keyPath, ...schemaKeyPaths(child, keyPath), ...(items ? schemaKeyPaths(items, keyPath) : [])];
  });
}

function auditEventsOf(file: string): unknown {
  const tree = load(readFileSync(file, 'utf8')) as { 'Butler-SOS': { auditEvents: unknown } };
  return tree['Butler-SOS'].auditEvents;
}

function problemsOf(raw: unknown): string[] {
  const result = validateAuditEventsConfig(raw);
  return result.ok ? [] : result.problems;
}

describe('config schema', () => {
  it('accepts the embedded default and the production template', () => {
    expect(problemsOf(auditEventsOf('config/default.yaml'))).to.deep.equal([]);
    expect(problemsOf(auditEventsOf('config/production_template.yaml'))).to.deep.equal([]);
  });

  it('documents every schema key in the production template', () => {
    const template = readFileSync('config/production_template.yaml', 'utf8');
    const undocumented = schemaKeyPaths(auditEventsConfigSchema)
      .filter((keyPath) => !keyPath.endsWith('queryTimeout'))
      .filter((keyPath) => !new RegExp(`^[ #]*-? *${keyPath.split('.').at(-1)}:`, 'm').test(template));
    expect(undocumented).to.deep.equal([]);
  });

  it('applies the documented defaults to an empty tree', () => {
    const config = validConfig({});
    expect(config.host).to.equal('127.0.0.1');
    expect(config.port).to.equal(8081);
    expect(config.apiToken).to.equal('');
    expect(config.rateLimit).to.deep.equal({ enable: true, maxPerMinute: 300 });
    expect(config.bodyLimitBytes).to.equal(1048576);
    expect(config.queue).to.deep.equal({
      maxConcurrent: 10,
      maxSize: 10000,
      backpressureThreshold: 80,
      rateLimit: { enable: false, maxMessagesPerMinute: 600 },
      queueMetrics: {
        influxdb: { enable: false, writeFrequency: 20000, measurementName: 'audit_events_queue', tags: [] },
      },
    });
    expect(config.journal).to.deep.equal({
      enable: true,
      directory: 'audit-events/journal',
      maxBytes: 1073741824,
      fsync: 'batch',
    });
    expect(config.tls.minVersion).to.equal('TLSv1.2');
    expect(config.destination.type).to.equal('parquet');
    expect(config.destination.parquet).to.deep.equal({
      exportDirectory: 'audit-events/parquet',
      maxBatchSize: 1000,
      writeFrequency: 20000,
      staticTags: [],
      compression: 'snappy',
      includeEnvelope: true,
    });
  });

  it('does not change the tree it was given', () => {
    const raw = { port: 9000 };
    validateAuditEventsConfig(raw);
    expect(raw).to.deep.equal({ port: 9000 });
  });

  it('reports every problem on its own line with the key path, what is wrong and what is allowed', () => {
    const problems = problemsOf({
      port: 99999,
      prot: 1,
      rateLimit: { maxPerMinute: 'many' },
      journal: { fsync: 'sometimes' },
      destination: { parquet: { compression: 'zstd' } },
    });
    expect(problems).to.have.members([
      'Butler-SOS.auditEvents.prot: unknown key; allowed here: enable, host, port, apiToken, cors, rateLimit, tls, trustProxy, bodyLimitBytes, shutdownTimeoutMs, queue, journal, destination',
      'Butler-SOS.auditEvents.port: is 99999, must be <= 65535',
      "Butler-SOS.auditEvents.rateLimit.maxPerMinute: is 'many', must be integer",
      "Butler-SOS.auditEvents.journal.fsync: is 'sometimes'; allowed: 'batch', 'always', 'never'",
      "Butler-SOS.auditEvents.destination.parquet.compression: is 'zstd', must be 'snappy', 'gzip' or 'none' (hyparquet-writer has no built-in zstd)",
    ]);
  });

  it('needs only the block of the configured InfluxDB version, and v2/v3 need a description', () => {
    const base = { type: 'influxdb', influxdb: { host: 'influx.local' } };
    expect(
      problemsOf({ destination: { ...base, influxdb: { ...base.influxdb, version: 2 } } }),
    ).to.deep.equal(['Butler-SOS.auditEvents.destination.influxdb.v2Config: missing; it is required here']);
    const v3 = { database: 'audit', token: 't' };
    expect(
      problemsOf({ destination: { ...base, influxdb: { ...base.influxdb, version: 3, v3Config: v3 } } }),
    ).to.deep.equal([
      'Butler-SOS.auditEvents.destination.influxdb.v3Config.description: missing; it is required here',
    ]);
  });

  it('refuses a v3 queryTimeout with a message that says why', () => {
    const v3Config = { database: 'audit', description: 'Audit', token: 't', queryTimeout: 5000 };
    expect(
      problemsOf({ destination: { type: 'influxdb', influxdb: { host: 'h', version: 3, v3Config } } }),
    ).to.deep.equal([
      'Butler-SOS.auditEvents.destination.influxdb.v3Config.queryTimeout: is 5000, not a v3 audit option: v3 audit writes have no query timeout (remove it; use writeTimeout)',
    ]);
  });

  it('validates measurementName, which the influx package would not escape', () => {
    const v1Config = { dbName: 'audit' };
    expect(
      problemsOf({
        destination: {
          type: 'influxdb',
          influxdb: { host: 'h', version: 1, v1Config, measurementName: 'audit event,x' },
        },
      }),
    ).to.deep.equal([
      "Butler-SOS.auditEvents.destination.influxdb.measurementName: is 'audit event,x', must start with a letter or _ and hold only letters, digits, _ . - (at most 128 characters)",
    ]);
  });

  it('reads destination.type as a comma-delimited list, ignoring case and spaces, refusing unknown names', () => {
    expect(parseDestinationTypes(' InfluxDB , parquet ,parquet')).to.deep.equal({
      types: ['influxdb', 'parquet'],
      unknown: [],
    });
    expect(problemsOf({ destination: { type: 'parquet, kafka' } })).to.deep.equal([
      "Butler-SOS.auditEvents.destination.type: unknown destination 'kafka'; allowed: influxdb, parquet",
    ]);
    expect(problemsOf({ destination: { type: 'parquet, influxdb' } })).to.deep.equal([
      'Butler-SOS.auditEvents.destination.influxdb: missing; required when destination.type includes influxdb',
    ]);
  });

  it('requires the certificate and key when TLS is on', () => {
    expect(problemsOf({ tls: { enable: true } })).to.have.members([
      'Butler-SOS.auditEvents.tls.certFile: missing; it is required here',
      'Butler-SOS.auditEvents.tls.keyFile: missing; it is required here',
    ]);
  });
});
