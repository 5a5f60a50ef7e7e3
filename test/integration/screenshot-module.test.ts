/**
 * Screenshots through the whole module in-process: events posted over HTTP, the image served
 * by a local server, the rows read back from Parquet (DuckDB) and from a real influxd, the
 * files read back from the storage targets. Also: a server that stalls every image delays the
 * other events by at most one download's limit and never an HTTP answer; a 6000×4000 PNG is
 * cut while the API keeps answering; a destination far behind downloads nothing again.
 */
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';
import { createScreenshotSaver } from '../../src/lib/audit-screenshots/index.js';
import { DOWNLOAD_ATTEMPTS, RETRY_DELAYS_MS } from '../../src/lib/audit-screenshots/download.js';
import { createAuditModule, type AuditModule } from '../../src/lib/audit-module.js';
import { AuditEventProcessor } from '../../src/lib/delivery/processor.js';
import type { AuditEventsConfig } from '../../src/lib/config/schema.js';
import { validConfig } from '../support/config.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { postAuditEvent } from '../support/audit-api-client.js';
import { eventually } from '../support/eventually.js';
import { freshEnvelope } from '../support/fixtures.js';
import { serveBytes, stallRoute, startImageServer, type ImageServer } from '../support/image-server.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';
import { codeBlocks } from '../support/markdown.js';
import { tempDir } from '../support/module-process.js';
import { readParquetRows, runDuckDbQuery } from '../support/parquet-reader.js';
import { recordingLogger, type RecordingLogger } from '../support/recording-logger.js';
import {
  codedPixels,
  codedPng,
  decodeRgba,
  encodePng,
  origin,
  originalRows,
  consecutive,
  screenshotsConfig,
} from '../support/screenshots.js';
import { createClientCertificateAuthority } from '../support/tls.js';

function configWith(raw: Record<string, unknown>): AuditEventsConfig {
  return validConfig({ port: 0, rateLimit: { enable: false }, ...raw });
}

function screenshotEvent(url: string, event: Record<string, unknown> = {}): AuditEnvelope {
  const envelope = freshEnvelope('screenshot.url.received', { timestamp: new Date().toISOString() });
  return {
    ...envelope,
    payload: { ...envelope.payload, event: { ...envelope.payload.event, screenshotUrl: url, ...event } },
  };
}

async function rowsOf(workDir: string): Promise<Record<string, unknown>[]> {
  return readParquetRows(path.join(workDir, 'audit-events', 'parquet', '*.parquet')).catch(() => []);
}

async function rowOf(workDir: string, eventId: string): Promise<Record<string, unknown> | undefined> {
  return (await rowsOf(workDir)).find((row) => row.eventId === eventId);
}

describe('screenshots through the module', function () {
  this.timeout(60000);
  let images: ImageServer;
  let running: AuditModule[] = [];

  before(async () => {
    images = await startImageServer();
  });

  after(async () => {
    await images.close();
  });

  afterEach(async () => {
    await Promise.all(running.map((module) => module.stop()));
    running = [];
  });

  async function start(
    workDir: string,
    config: AuditEventsConfig,
    recording: RecordingLogger = recordingLogger('warn'),
  ) {
    const module = createAuditModule(config, { logger: recording.logger, version: 'test', baseDir: workDir });
    running.push(module);
    const address = await module.start();
    if (!address) throw new Error('module did not start');
    return `http://127.0.0.1:${address.port}`;
  }

  describe('with Parquet and InfluxDB', () => {
    let influxd: InfluxdServer;

    before(async () => {
      influxd = await startInfluxd();
    });

    after(async () => {
      await influxd.stop();
    });

    it('stores the saved paths with the row in Parquet and in InfluxDB; the files hold the cropped image', async () => {
      const workDir = tempDir('screenshot-module');
      images.route('/tempcontent/app/JpXkTr.png', serveBytes(await codedPng(1280, 800)));
      const baseUrl = await start(
        workDir,
        configWith({
          destination: {
            type: 'parquet,influxdb',
            parquet: { writeFrequency: 200 },
            influxdb: {
              host: '127.0.0.1',
              port: influxd.port,
              version: 1,
              v1Config: { dbName: 'screens' },
              writeFrequency: 200,
            },
            screenshots: {
              enable: true,
              allowedImageDownloadHosts: ['127.0.0.1'],
              storageTargets: [
                { enable: true, directory: 'screenshots/a' },
                { enable: true, directory: 'screenshots/b' },
              ],
              addInImageMetadata: {
                enable: true,
                fields: { date: true, eventId: true, user: true, appName: true },
              },
            },
          },
        }),
      );
      const event = screenshotEvent(images.url('/tempcontent/app/JpXkTr.png?serverNodeId=9d1f'));
      const selection = freshEnvelope('selection.state.changed', { timestamp: event.timestamp });
      const escaping = {
        ...screenshotEvent(images.url('/tempcontent/app/JpXkTr.png')),
        correlationId: '../../../etc/x',
      };
      for (const envelope of [event, selection, escaping])
        expect((await postAuditEvent(baseUrl, envelope)).status).to.equal(202);

      const row = await eventually(
        () => rowOf(workDir, event.eventId),
        20000,
        'the screenshot row in Parquet',
      );
      const name = `${event.timestamp.replace(/[-:]/g, '')}_${event.eventId}_${event.correlationId}`;
      const files = ['a', 'b'].flatMap((target) => [
        path.join(workDir, 'screenshots', target, `${name}.png`),
        path.join(workDir, 'screenshots', target, `${name}_metadata.png`),
      ]);
      expect(row.screenshotSavedPaths).to.equal(JSON.stringify(files));
      const points = await eventually(
        async () => {
          const found = await influxd
            .query(
              'screens',
              `SELECT "screenshotSavedPaths" FROM "audit_event" WHERE "eventId" = '${event.eventId}'`,
            )
            .catch(() => []);
          return found.length > 0 ? found : undefined;
        },
        20000,
        'the screenshot point in influxd',
      );
      expect(points.map((point) => point.screenshotSavedPaths)).to.deep.equal([JSON.stringify(files)]);
      // One download for both destinations.
      expect(
        images.requests.filter((request) => request.url.startsWith('/tempcontent/app/JpXkTr.png?')),
      ).to.have.length(1);

      const image = await decodeRgba(files[0]);
      expect([image.width, image.height]).to.deep.equal([640, 380]); // the fixture's crop
      expect(origin(image, 0, 0)).to.deep.equal({ row: 112, column: 24 });
      expect(
        (await sharp(files[2]).raw().toBuffer()).equals(await sharp(files[0]).raw().toBuffer()),
      ).to.equal(true);
      const metadata = await sharp(files[1]).metadata();
      expect(metadata.width).to.equal(640);
      expect(metadata.height).to.be.greaterThan(380);

      // A correlationId that tries to climb out of the target lands inside it.
      const escaped = await eventually(() => rowOf(workDir, escaping.eventId), 20000, 'the escaping row');
      expect(JSON.parse(String(escaped.screenshotSavedPaths))[0]).to.equal(
        path.join(
          workDir,
          'screenshots',
          'a',
          `${escaping.timestamp.replace(/[-:]/g, '')}_${escaping.eventId}_.._.._.._etc_x.png`,
        ),
      );

      // The queries of docs/screenshots.md find the picture.
      await eventually(() => rowOf(workDir, selection.eventId), 20000, 'the selection row');
      const sqlQueries = codeBlocks(path.join('docs', 'screenshots.md'), 'sql');
      const influxqlQueries = codeBlocks(path.join('docs', 'screenshots.md'), 'influxql');
      expect(sqlQueries.length, 'SQL examples in docs/screenshots.md').to.be.greaterThan(0);
      expect(influxqlQueries.length, 'InfluxQL examples in docs/screenshots.md').to.be.greaterThan(0);
      for (const sql of sqlQueries) {
        const answer = await runDuckDbQuery(sql, workDir);
        expect(answer.map((found) => Object.values(found).map(String).join(' ')).join('\n')).to.include(
          files[0],
        );
      }
      for (const influxql of influxqlQueries) {
        const answer = await influxd.query('screens', influxql.trim());
        expect(answer.map((found) => found.screenshotSavedPaths)).to.include(JSON.stringify(files));
      }
    });
  });

  it('a server that stalls every image delays the other events by at most one download, and no HTTP answer', async () => {
    const workDir = tempDir('screenshot-stall');
    images.route('/stall.png', stallRoute);
    const downloadTimeoutMs = 400;
    const writeFrequency = 300;
    const oneDownloadMs =
      DOWNLOAD_ATTEMPTS * downloadTimeoutMs + RETRY_DELAYS_MS.reduce((sum, ms) => sum + ms, 0);
    const recording = recordingLogger('warn');
    const baseUrl = await start(
      workDir,
      configWith({
        queue: { maxConcurrent: 5 },
        destination: {
          parquet: { writeFrequency },
          screenshots: {
            enable: true,
            allowedImageDownloadHosts: ['127.0.0.1'],
            downloadTimeoutMs,
            storageTargets: [{ enable: true, directory: 'shots' }],
          },
        },
      }),
      recording,
    );
    const stalled = Array.from({ length: 5 }, () => screenshotEvent(images.url('/stall.png')));
    const statuses = await Promise.all(
      stalled.map(async (envelope) => (await postAuditEvent(baseUrl, envelope)).status),
    );
    await eventually(async () => (images.stalled === 5 ? true : undefined), 10000, 'five downloads stalled');

    // While every download hangs, the API answers at once, and the other events flow.
    const others = Array.from({ length: 5 }, () =>
      freshEnvelope('object.view.duration', { timestamp: new Date().toISOString() }),
    );
    for (const envelope of others) statuses.push((await postAuditEvent(baseUrl, envelope)).status);
    expect(statuses).to.deep.equal(Array(10).fill(202));
    expect(recording.lines.filter((line) => line.includes('not saved'))).to.deep.equal([]); // still downloading
    const bound = oneDownloadMs + writeFrequency + 2000; // the batch ahead's downloads, then one flush, plus slack
    await eventually(
      async () => {
        const ids = new Set((await rowsOf(workDir)).map((row) => row.eventId));
        return others.every((envelope) => ids.has(envelope.eventId)) ? true : undefined;
      },
      bound,
      `the other events in Parquet within ${bound} ms`,
    );
    // The stalled screenshots are stored too, without paths, each with a warning that says why.
    const rows = await eventually(async () => {
      const found = (await rowsOf(workDir)).filter((row) =>
        stalled.some((envelope) => envelope.eventId === row.eventId),
      );
      return found.length === 5 ? found : undefined;
    });
    expect(rows.map((row) => row.screenshotSavedPaths)).to.deep.equal(Array(5).fill(null));
    expect(recording.lines.filter((line) => line.includes('not saved')).sort()).to.deep.equal(
      stalled
        .map(
          (envelope) =>
            `warn: screenshot of event ${envelope.eventId} not saved: no complete answer within downloadTimeoutMs (${downloadTimeoutMs} ms) (3 attempts)`,
        )
        .sort(),
    );
  });

  it('cuts a 6000×4000 PNG while the API keeps answering; the image and its metadata copy read back at the cut size', async () => {
    const workDir = tempDir('screenshot-large');
    images.route('/large.png', serveBytes(await encodePng(codedPixels(6000, 4000))));
    const baseUrl = await start(
      workDir,
      configWith({
        destination: {
          parquet: { writeFrequency: 200 },
          screenshots: {
            enable: true,
            allowedImageDownloadHosts: ['127.0.0.1'],
            storageTargets: [{ enable: true, directory: 'shots' }],
            addInImageMetadata: { enable: true, fields: { eventId: true, sheetName: true } },
          },
        },
      }),
    );
    const crop = { top: 20, left: 1000, width: 4000, height: 3000, scrollTop: 200, scrollAreaOffsetY: 50 };
    const event = screenshotEvent(images.url('/large.png'), { crop });
    expect((await postAuditEvent(baseUrl, event)).status).to.equal(202);
    await eventually(async () =>
      images.requests.some((request) => request.url === '/large.png') ? true : undefined,
    );

    // Events posted while the image is downloaded, cut and saved are all answered.
    const answered: number[] = [];
    let row: Record<string, unknown> | undefined;
    while (!(row = await rowOf(workDir, event.eventId))) {
      const envelope = freshEnvelope('navigation.sheet.loaded', { timestamp: new Date().toISOString() });
      answered.push((await postAuditEvent(baseUrl, envelope)).status);
    }
    expect(answered.length).to.be.greaterThan(0);
    expect(answered.every((status) => status === 202)).to.equal(true);

    const [imageFile, metadataFile] = JSON.parse(String(row.screenshotSavedPaths)) as string[];
    expect(metadataFile).to.equal(imageFile.replace(/\.png$/, '_metadata.png'));
    const image = await decodeRgba(imageFile);
    expect([image.width, image.height]).to.deep.equal([4000, 3000]);
    // Title rows 20..49, the 200 rows scrolled past skipped, then rows 250.. from column 1000.
    expect(originalRows(image)).to.deep.equal([...consecutive(20, 30), ...consecutive(250, 2970)]);
    expect(origin(image, 0, 0).column).to.equal(1000 % 256);
    const withBand = await decodeRgba(metadataFile);
    const band = withBand.height - 3000;
    expect(withBand.width).to.equal(4000);
    expect(band).to.be.greaterThan(2 * 10);
    const below = await sharp(withBand.data, { raw: { width: 4000, height: withBand.height, channels: 4 } })
      .extract({ left: 0, top: band, width: 4000, height: 3000 })
      .raw()
      .toBuffer();
    expect(below.equals(image.data)).to.equal(true);
  });

  it('logs what an administrator must know at start, instead of the old "not in this build" warning', async () => {
    const workDir = tempDir('screenshot-warnings');
    createClientCertificateAuthority(workDir);
    const recording = recordingLogger('warn');
    await start(
      workDir,
      configWith({
        apiToken: 'secret',
        destination: {
          parquet: {},
          screenshots: {
            enable: true,
            allowedImageDownloadHosts: null,
            storageTargets: [{ enable: false, directory: 'off' }],
            auth: {
              mode: 'userTicket',
              qps: { host: '127.0.0.1' },
              tls: { certFile: 'client.crt', keyFile: 'client.key' },
            },
          },
        },
      }),
      recording,
    );
    expect(recording.lines).to.deep.equal([
      'warn: Butler-SOS.auditEvents.destination.screenshots.allowedImageDownloadHosts is empty: no screenshot is downloaded (fail closed); list the Qlik Sense host names',
      'warn: Butler-SOS.auditEvents.destination.screenshots.storageTargets has no enabled target: no screenshot is saved',
      'warn: Butler-SOS.auditEvents.destination.screenshots.auth.mode is userTicket: the page that posts an event chooses whose Qlik session fetches its screenshot (limited to /tempcontent/ paths on allowed hosts); prefer qpsTicket with a service user',
    ]);
  });

  it('a destination far behind gets the same paths, and nothing is downloaded again', async () => {
    const workDir = tempDir('screenshot-replay');
    images.route('/replay-a.png', serveBytes(await codedPng(90, 60)));
    images.route('/replay-b.png', serveBytes(await codedPng(90, 60)));
    const saver = await createScreenshotSaver(
      screenshotsConfig({
        allowedImageDownloadHosts: ['127.0.0.1'],
        storageTargets: [{ enable: true, directory: 'shots' }],
      }),
      { logger: createSilentLogger(), baseDir: workDir },
    );
    try {
      // Two destinations read each event; only one record is kept for the one behind.
      const processor = new AuditEventProcessor({
        maxConcurrent: 2,
        readers: 2,
        maxShared: 1,
        logger: createSilentLogger(),
        handlerDeps: { screenshots: saver },
      });
      const entries = [
        { seq: 1, envelope: screenshotEvent(images.url('/replay-a.png')) },
        { seq: 2, envelope: screenshotEvent(images.url('/replay-b.png')) },
      ];
      const ahead = await processor.recordsFor(entries);
      const behind = await processor.recordsFor(entries); // the first record was dropped: built again
      const paths = (built: typeof ahead) =>
        built.map((item) => ('record' in item ? item.record.screenshotSavedPaths : item.failure));
      expect(paths(behind)).to.deep.equal(paths(ahead));
      expect(JSON.parse(String(paths(ahead)[0]))).to.have.length(1);
      expect(
        images.requests.filter((request) => request.url.startsWith('/replay-')).map((request) => request.url),
      ).to.deep.equal(['/replay-a.png', '/replay-b.png']);
    } finally {
      await saver.close();
    }
  });
});
