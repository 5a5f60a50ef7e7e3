/**
 * The seam for a host with its own server and queue (src/index.ts, docs/embedding.md), as Butler
 * SOS 15 would call it: its config section as it is (15.0.x layout), a winston-shaped logger,
 * processAuditEventEnvelope per event. The screenshot handler runs (the image served by a local
 * server), and the row reaches Parquet (read back by DuckDB) and a real influxd with its paths.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { createAuditDestinationsFromConfig } from '../../src/index.js';
import { freshEnvelope } from '../support/fixtures.js';
import { serveBytes, startImageServer, type ImageServer } from '../support/image-server.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';
import { tempDir } from '../support/module-process.js';
import { readParquetRows } from '../support/parquet-reader.js';
import { recordingLogger } from '../support/recording-logger.js';
import { codedPng } from '../support/screenshots.js';

describe('the host seam: createAuditDestinationsFromConfig', function () {
  this.timeout(60000);
  let influxd: InfluxdServer;
  let images: ImageServer;

  before(async () => {
    [influxd, images] = await Promise.all([startInfluxd(), startImageServer()]);
  });

  after(async () => {
    await Promise.all([influxd.stop(), images.close()]);
  });

  /** An auditEvents section as Butler SOS 15.0.x lays it out: settings under `metadata`. */
  function butlerSos15Section(workDir: string) {
    return {
      enable: true,
      destination: {
        enable: true,
        type: 'parquet, influxdb',
        parquet: {
          metadata: { exportDirectory: path.join(workDir, 'parquet'), staticTags: null },
        },
        influxdb: {
          metadata: {
            host: '127.0.0.1',
            port: influxd.port,
            version: 1,
            staticTags: null,
            v1Config: { dbName: 'host_seam' },
          },
        },
        screenshots: {
          enable: true,
          allowedImageDownloadHosts: ['127.0.0.1'],
          storageTargets: [{ enable: true, directory: path.join(workDir, 'screenshots') }],
        },
      },
    };
  }

  it('runs the screenshot handler and writes the event with its saved paths to every destination', async () => {
    const workDir = tempDir('host-seam');
    images.route('/tempcontent/app/seam.png', serveBytes(await codedPng(640, 400)));
    const { logger, lines } = recordingLogger('warn');
    const destinations = await createAuditDestinationsFromConfig(
      { 'Butler-SOS': { auditEvents: butlerSos15Section(workDir) } },
      { logger, baseDir: workDir },
    );
    const screenshot = freshEnvelope('screenshot.url.received', { timestamp: new Date().toISOString() });
    screenshot.payload.event = {
      ...screenshot.payload.event,
      screenshotUrl: images.url('/tempcontent/app/seam.png'),
    };
    const sheet = freshEnvelope('navigation.sheet.loaded', { timestamp: new Date().toISOString() });
    let extras;
    try {
      extras = await destinations.processAuditEventEnvelope(screenshot);
      expect(await destinations.processAuditEventEnvelope(sheet)).to.deep.equal({});
    } finally {
      await destinations.close();
    }

    const saved = extras?.screenshot?.savedPaths ?? [];
    expect(saved).to.have.length(1);
    expect(saved[0].startsWith(path.join(workDir, 'screenshots'))).to.equal(true);
    expect(existsSync(saved[0])).to.equal(true);
    const rows = await readParquetRows(path.join(workDir, 'parquet', '*.parquet'));
    const byId = new Map(rows.map((row) => [row.eventId, row]));
    expect([...byId.keys()].sort()).to.deep.equal([screenshot.eventId, sheet.eventId].sort());
    expect(JSON.parse(byId.get(screenshot.eventId)?.screenshotSavedPaths as string)).to.deep.equal(saved);
    const [point] = await influxd.query(
      'host_seam',
      `SELECT "screenshotSavedPaths" FROM "audit_event" WHERE "eventType" = 'screenshot.url.received'`,
    );
    expect(JSON.parse(point.screenshotSavedPaths as string)).to.deep.equal(saved);
    expect(lines.filter((line) => line.startsWith('error:'))).to.deep.equal([]);
  });

  it('refuses a logger that lacks one of the five methods, naming it', async () => {
    const { logger } = recordingLogger('warn');
    const withoutVerbose = Object.fromEntries(Object.entries(logger).filter(([name]) => name !== 'verbose'));
    let failure: unknown;
    try {
      await createAuditDestinationsFromConfig({ enable: true }, { logger: withoutVerbose as typeof logger });
    } catch (error) {
      failure = error;
    }
    expect(failure).to.be.instanceOf(TypeError);
    expect((failure as Error).message).to.equal(
      'the logger needs these methods, each taking a message string: verbose',
    );
  });
});
