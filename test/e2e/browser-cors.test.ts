/**
 * A real browser on the Qlik Sense site: headless Chromium loads a page from one loopback
 * origin and posts events with fetch, a bearer token and the version header, as Audit.qs does,
 * to the module (in-process, writing Parquet) on another origin. The allowed origin's events
 * are stored (read back by DuckDB) after one preflight for them all; another origin's are
 * blocked by the browser itself, and the module's warning names that origin.
 */
import { rmSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { createAuditModule, type AuditModule } from '../../src/lib/audit-module.js';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';
import { validConfig } from '../support/config.js';
import { launchChromium, type Chromium } from '../support/chromium.js';
import { eventually } from '../support/eventually.js';
import { freshEnvelope } from '../support/fixtures.js';
import { tempDir } from '../support/module-process.js';
import { readParquetRows } from '../support/parquet-reader.js';
import {
  SITE_HEADER,
  startQlikSitePage,
  type PagePost,
  type PagePostResult,
  type QlikSitePage,
} from '../support/qlik-site-page.js';
import { recordingLogger } from '../support/recording-logger.js';

const TOKEN = 'browser-test-token-4d2c';
const VERSION = '0.4.1';

describe('a browser on the Qlik Sense site posting to the module (headless Chromium)', function () {
  this.timeout(120_000);
  const { logger, lines } = recordingLogger('debug');
  const directory = tempDir('browser-cors');
  const exportDirectory = path.join(directory, 'parquet');
  let site: QlikSitePage; // the Qlik Sense site: an allowed origin
  let elsewhere: QlikSitePage; // another origin, not on the list
  let module: AuditModule;
  let eventUrl: string;
  let browser: Chromium;
  const consoleLines: string[] = [];

  before(async () => {
    site = await startQlikSitePage('localhost');
    elsewhere = await startQlikSitePage('127.0.0.1');
    const config = validConfig({
      host: '127.0.0.1',
      port: 0,
      apiToken: TOKEN,
      cors: { allowedOrigins: [site.origin] },
      journal: { directory: path.join(directory, 'journal') },
      destination: { type: 'parquet', parquet: { exportDirectory, writeFrequency: 200 } },
    });
    module = createAuditModule(config, { logger, version: '0.0.0-test' });
    const address = await module.start();
    if (!address) throw new Error('module did not start');
    eventUrl = `http://127.0.0.1:${address.port}/api/v1/audit-event`;
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await module?.stop();
    await Promise.all([site?.close(), elsewhere?.close()]);
    rmSync(directory, { recursive: true, force: true });
  });

  async function openPage(at: QlikSitePage): Promise<Page> {
    const page = await browser.context.newPage();
    page.on('console', (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
    await page.goto(at.url);
    return page;
  }

  function postFromPage(page: Page, envelope: AuditEnvelope): Promise<PagePostResult> {
    const post: PagePost = { url: eventUrl, token: TOKEN, version: VERSION, envelope };
    // The page's own script sends it: the browser applies CORS exactly as for Audit.qs.
    return page.evaluate(
      (args) =>
        (window as unknown as { postAuditEvent(post: PagePost): Promise<PagePostResult> }).postAuditEvent(
          args,
        ),
      post,
    );
  }

  async function storedRows(): Promise<Record<string, unknown>[]> {
    return readParquetRows(path.join(exportDirectory, '*.parquet'), 'timestamp, eventId');
  }

  /** Waits until Parquet holds `eventId`; then every event accepted before it is there too (log order). */
  async function rowsOnceStored(eventId: string): Promise<Record<string, unknown>[]> {
    return eventually(
      async () => {
        const rows = await storedRows();
        return rows.some((row) => row.eventId === eventId) ? rows : undefined;
      },
      30_000,
      `event ${eventId} in Parquet`,
    );
  }

  const preflightLines = () => lines.filter((line) => line.startsWith('debug: audit API: CORS preflight'));

  it(`runs Debian's Chromium through playwright-core`, () => {
    expect(browser.version).to.match(/^\d+\.\d+\.\d+\.\d+$/);
  });

  it("stores an allowed origin's events, after one preflight that allows the site's own header", async () => {
    const page = await openPage(site);
    const sent = [
      freshEnvelope('object.view.duration'),
      freshEnvelope('selection.state.changed'),
      freshEnvelope('navigation.sheet.loaded'),
    ];
    for (const envelope of sent) {
      const result = await postFromPage(page, envelope);
      expect(result).to.have.property('status', 202);
      expect((result as { body: unknown }).body).to.include({ status: 'accepted', outcome: 'processed' });
    }
    await page.close();

    // max-age: the browser asked once, and cached the answer for the next two events. Chromium
    // asks for the non-safelisted headers lowercased and sorted, the site's own among them.
    expect(preflightLines()).to.deep.equal([
      `debug: audit API: CORS preflight from origin '${site.origin}' for POST /api/v1/audit-event ` +
        `(headers: authorization,content-type,x-audit-qs-version,${SITE_HEADER}) allowed; ` +
        'browsers keep the answer for up to 7200 s',
    ]);

    const rows = await rowsOnceStored(sent[2].eventId);
    const stored = rows.map((row) => [row.eventId, row.eventType, row.user, row.appName]);
    expect(stored).to.have.deep.members(
      sent.map((envelope) => [
        envelope.eventId,
        envelope.type,
        envelope.payload.context?.user,
        envelope.payload.context?.appName,
      ]),
    );
    expect(lines.filter((line) => line.startsWith('warn: audit API'))).to.deep.equal([]);
  });

  it("blocks another origin's events in the browser; nothing is stored; the warning names the origin", async () => {
    const page = await openPage(elsewhere);
    const blocked = freshEnvelope('object.view.duration');
    const result = await postFromPage(page, blocked);
    // The browser rejects the fetch: the page never sees a status.
    expect(result).to.deep.equal({ error: 'TypeError: Failed to fetch' });
    await page.close();
    expect(consoleLines.join('\n')).to.include(
      `Access to fetch at '${eventUrl}' from origin '${elsewhere.origin}' has been blocked by CORS policy`,
    );

    // The module saw the preflight only: the POST with the event never left the browser.
    expect(lines.filter((line) => line.includes(' refused with '))).to.deep.equal([
      'debug: audit API: OPTIONS /api/v1/audit-event refused with 401: missing or invalid bearer token',
    ]);
    expect(lines.filter((line) => line.startsWith('warn: audit API'))).to.deep.equal([
      `warn: audit API: refused a CORS preflight from 127.0.0.1 for origin '${elsewhere.origin}' (answered 401): ` +
        `it is not in Butler-SOS.auditEvents.cors.allowedOrigins ('${site.origin}'), so the browser blocks ` +
        'every event that pages of that origin post. If Qlik Sense is served from there, add that origin to ' +
        'the list (repeats are counted: at most one warning every 60 s)',
    ]);

    // An event the site posts afterwards is stored; the blocked one, before it in time, is not.
    const sitePage = await openPage(site);
    const later = freshEnvelope('navigation.sheet.loaded');
    expect(await postFromPage(sitePage, later)).to.have.property('status', 202);
    await sitePage.close();
    const eventIds = (await rowsOnceStored(later.eventId)).map((row) => row.eventId);
    expect(eventIds).to.include(later.eventId).and.not.include(blocked.eventId);
  });
});
