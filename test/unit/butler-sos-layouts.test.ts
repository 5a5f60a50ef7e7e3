/**
 * Butler SOS's layouts of auditEvents turned into this module's: each moved key keeps its
 * value and its meaning, a key given in both layouts is a problem naming both paths, and what
 * this module does not have gives one warning naming it.
 */
import { expect } from 'chai';
import { toModuleLayout } from '../../src/lib/config/butler-sos-layouts.js';
import { validateAuditEventsConfig } from '../../src/lib/config/validate.js';

describe("Butler SOS's config layouts", () => {
  it('reads destination.*.metadata, queue.messageQueue and tls.cert/key as this layout', () => {
    const { section, problems, warnings } = toModuleLayout({
      destination: {
        influxdb: { metadata: { host: 'influx', port: 8086, version: 1, v1Config: { dbName: 'audit' } } },
        parquet: { metadata: { exportDirectory: 'pq', maxBatchSize: 500, writeFrequency: 100 } },
      },
      queue: { messageQueue: { maxConcurrent: 4, maxSize: 200, backpressureThreshold: 70 } },
      tls: { enable: false, cert: 'server.crt', key: 'server.key' },
    });
    expect(problems).to.deep.equal([]);
    expect(warnings).to.deep.equal([]);
    expect(section).to.deep.equal({
      destination: {
        influxdb: { host: 'influx', port: 8086, version: 1, v1Config: { dbName: 'audit' } },
        parquet: { exportDirectory: 'pq', maxBatchSize: 500, writeFrequency: 100 },
      },
      queue: { maxConcurrent: 4, maxSize: 200, backpressureThreshold: 70 },
      tls: { enable: false, certFile: 'server.crt', keyFile: 'server.key' },
    });
  });

  it('reads null lists as empty ones, as Butler SOS does', () => {
    const { section } = toModuleLayout({
      cors: { allowedOrigins: null },
      destination: { parquet: { metadata: { staticTags: null } } },
      queue: { queueMetrics: { influxdb: { tags: null } } },
    });
    expect(section).to.deep.equal({
      cors: { allowedOrigins: [] },
      destination: { parquet: { staticTags: [] } },
      queue: { queueMetrics: { influxdb: { tags: [] } } },
    });
  });

  it('names both paths when one setting is given in both layouts, and keeps neither silently', () => {
    const { problems } = toModuleLayout({
      destination: { parquet: { exportDirectory: 'a', metadata: { exportDirectory: 'b' } } },
      queue: { maxSize: 10, messageQueue: { maxSize: 20 } },
      tls: { certFile: 'a.crt', cert: 'b.crt' },
    });
    expect(problems).to.deep.equal([
      'Butler-SOS.auditEvents.destination.parquet.exportDirectory and Butler-SOS.auditEvents.destination.parquet.metadata.exportDirectory are the same setting in two layouts: keep one of them',
      'Butler-SOS.auditEvents.queue.maxSize and Butler-SOS.auditEvents.queue.messageQueue.maxSize are the same setting in two layouts: keep one of them',
      'Butler-SOS.auditEvents.tls.certFile and Butler-SOS.auditEvents.tls.cert are the same setting in two layouts: keep one of them',
    ]);
  });

  it('skips qvd and json with one warning each and runs the other destinations', () => {
    const { section, warnings } = toModuleLayout({
      destination: {
        type: 'influxdb, QVD, parquet,json',
        qvd: { metadata: { exportDirectory: 'q' } },
        json: { objectdata: { enable: true } },
        parquet: { objectdata: { enable: true } },
      },
    });
    expect((section.destination as Record<string, unknown>).type).to.equal('influxdb, parquet');
    expect(section.destination).to.not.have.any.keys('qvd', 'json');
    expect(warnings).to.deep.equal([
      'Butler-SOS.auditEvents.destination.parquet.objectdata: exporting object data apart is a Butler SOS feature this module does not have; ignored (objectData is stored with each event)',
      "Butler-SOS.auditEvents.destination.type: 'QVD' is a Butler SOS destination this module does not have; skipped, the other destinations run",
      "Butler-SOS.auditEvents.destination.type: 'json' is a Butler SOS destination this module does not have; skipped, the other destinations run",
    ]);
  });

  it("moves the older template's auditEvents.screenshots, with its flat metadata flags and userId", () => {
    const { section } = toModuleLayout({
      screenshots: {
        enable: false,
        addInImageMetadata: { date: true, userId: true, appName: false },
        auth: { mode: 'none' },
      },
    });
    expect(section).to.deep.equal({
      destination: {
        screenshots: {
          enable: false,
          addInImageMetadata: { enable: true, fields: { date: true, user: true, appName: false } },
          auth: { mode: 'none' },
        },
      },
    });
  });

  it('takes Butler-SOS.cert for the QPS tickets when the screenshots block names no certificate', () => {
    const butlerSos = {
      cert: {
        clientCert: 'client.pem',
        clientCertKey: 'client_key.pem',
        clientCertCA: 'root.pem',
        clientCertPassphrase: '',
      },
      serversToMonitor: { rejectUnauthorized: false },
    };
    const ticket = toModuleLayout(
      { destination: { screenshots: { auth: { mode: 'qpsTicket' } } } },
      butlerSos,
    );
    expect(ticket.section).to.deep.equal({
      destination: {
        screenshots: {
          auth: {
            mode: 'qpsTicket',
            tls: {
              certFile: 'client.pem',
              keyFile: 'client_key.pem',
              caFile: 'root.pem',
              rejectUnauthorized: false,
            },
          },
        },
      },
    });
    const own = toModuleLayout(
      { destination: { screenshots: { auth: { mode: 'qpsTicket', tls: { certFile: 'own.pem' } } } } },
      butlerSos,
    );
    expect(own.section).to.deep.equal({
      destination: { screenshots: { auth: { mode: 'qpsTicket', tls: { certFile: 'own.pem' } } } },
    });
  });

  it('warns that includeObjectData: false and tls.ca do not do here what their names say', () => {
    const { warnings, section } = toModuleLayout({
      destination: { parquet: { includeObjectData: false }, influxdb: { includeObjectData: true } },
      tls: { ca: 'ca.pem' },
    });
    expect(section).to.deep.equal({ destination: { parquet: {}, influxdb: {} }, tls: {} });
    expect(warnings).to.deep.equal([
      'Butler-SOS.auditEvents.destination.parquet.includeObjectData: false is a Butler SOS setting this module does not have; objectData is stored with each event',
      'Butler-SOS.auditEvents.tls.ca: ignored, as Butler SOS ignores it; to require client certificates signed by a CA, set tls.caFile',
    ]);
  });

  it("names a problem by the path the file has, in Butler SOS's layout", () => {
    const result = validateAuditEventsConfig({
      'Butler-SOS': {
        auditEvents: {
          destination: {
            type: 'influxdb',
            influxdb: { metadata: { host: 'influx', version: 4, maxBatchSize: 0 } },
          },
        },
      },
    });
    expect(result.ok).to.equal(false);
    if (result.ok) return;
    expect(result.problems).to.include.members([
      'Butler-SOS.auditEvents.destination.influxdb.metadata.version: is 4; allowed: 1, 2, 3',
      'Butler-SOS.auditEvents.destination.influxdb.metadata.maxBatchSize: is 0, must be >= 1',
    ]);
  });

  it('takes a whole config, the Butler-SOS tree or the section, and says when the section is missing', () => {
    const section = { port: 9000 };
    for (const tree of [{ 'Butler-SOS': { auditEvents: section } }, { auditEvents: section }, section]) {
      const result = validateAuditEventsConfig(tree);
      expect(result.ok && result.config.port).to.equal(9000);
    }
    expect(validateAuditEventsConfig({ 'Butler-SOS': { logLevel: 'info' } })).to.deep.equal({
      ok: false,
      problems: [
        'Butler-SOS.auditEvents: missing; add the section (config/production_template.yaml lists every key)',
      ],
    });
  });
});
