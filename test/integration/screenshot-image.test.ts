/**
 * The image work on real PNGs, with sharp: the three crop steps (every output pixel is traced
 * back to the row and column it came from), the metadata image (the screenshot under a white
 * band), and what happens to an image that cannot be cut.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import sharp from 'sharp';
import { cropPng } from '../../src/lib/audit-screenshots/crop.js';
import { createScreenshotSaver, type ScreenshotSaver } from '../../src/lib/audit-screenshots/index.js';
import { metadataLines, renderMetadataImage } from '../../src/lib/audit-screenshots/metadata-image.js';
import { serveBytes, startImageServer, type ImageServer } from '../support/image-server.js';
import { tempDir } from '../support/module-process.js';
import { recordingLogger } from '../support/recording-logger.js';
import {
  codedPixels,
  codedPng,
  decodeRgba,
  encodePng,
  origin,
  originalRows,
  consecutive,
  screenshotRequest,
  screenshotsConfig,
  type Rgba,
} from '../support/screenshots.js';

const WHITE = [255, 255, 255];
const GRID_GREY = [220, 220, 220];

/**
 * A table as Qlik renders it: white rows, grey grid lines every 40 rows (and at `bottomLine`),
 * cells with varied colours; each row's number is written into its first 4 pixels, which the
 * grid-line search leaves out (the table's frame), so that the crop can be traced.
 */
function tablePixels(width: number, height: number, bottomLine: number): Rgba {
  const pixels = codedPixels(width, height);
  for (let y = 0; y < height; y += 1) {
    const isLine = y === bottomLine || (y < bottomLine && y % 40 === 0 && y > 0);
    const hasCells = !isLine && y < bottomLine && y % 40 > 10 && y % 40 < 30;
    for (let x = 4; x < width; x += 1) {
      const i = (y * width + x) * 4;
      const colour = isLine ? GRID_GREY : hasCells && x % 7 < 3 ? [40, 90 + (x % 50), 160] : WHITE;
      pixels.data.set(colour, i);
    }
  }
  return pixels;
}

describe('screenshot image work', function () {
  this.timeout(30000);

  it('crops to the object: columns from left, rows from top, clamped to the image', async () => {
    const cropped = await cropPng(await codedPng(300, 200), {
      top: 10.9,
      left: 20.2,
      width: 100,
      height: 500,
    });
    const pixels = await decodeRgba(cropped.bytes);
    expect([pixels.width, pixels.height, cropped.cropped]).to.deep.equal([100, 190, true]);
    expect(originalRows(pixels)).to.deep.equal(consecutive(10, 190));
    expect(origin(pixels, 0, 0).column).to.equal(20);
    expect(origin(pixels, 99, 0).column).to.equal(119);
  });

  it('returns the downloaded bytes when the image is the object already', async () => {
    const png = await codedPng(100, 80);
    const result = await cropPng(png, { top: 5, left: 5, width: 100, height: 80 });
    expect(result.cropped).to.equal(false);
    expect(result.bytes).to.equal(png);
  });

  it('scroll composite: keeps the title rows, skips the rows scrolled past, then crops', async () => {
    const cropped = await cropPng(await codedPng(120, 300), {
      top: 0,
      left: 0,
      width: 120,
      height: 200,
      scrollTop: 50,
      scrollAreaOffsetY: 30,
    });
    const pixels = await decodeRgba(cropped.bytes);
    expect([pixels.width, pixels.height]).to.deep.equal([120, 200]);
    expect(originalRows(pixels)).to.deep.equal([...consecutive(0, 30), ...consecutive(80, 170)]);
  });

  it('overflow composite: takes renderingOverflow rows out just above the bottom grid line', async () => {
    const table = tablePixels(300, 200, 160);
    const cropped = await cropPng(await encodePng(table), {
      top: 0,
      left: 0,
      width: 300,
      height: 200,
      renderingOverflow: 15,
    });
    const pixels = await decodeRgba(cropped.bytes);
    expect([pixels.width, pixels.height]).to.deep.equal([300, 185]);
    expect(originalRows(pixels)).to.deep.equal([...consecutive(0, 145), ...consecutive(160, 40)]);
  });

  it('overflow composite: leaves the image whole when it finds no grid line', async () => {
    const png = await codedPng(300, 200); // every row varies: no uniform grey line
    const result = await cropPng(png, { width: 300, height: 200, renderingOverflow: 15 });
    expect(result.cropped).to.equal(false);
  });

  it('all three steps together: scroll, overflow, then the standard crop', async () => {
    const table = tablePixels(300, 400, 360);
    const cropped = await cropPng(await encodePng(table), {
      top: 10,
      left: 0,
      width: 200,
      height: 250,
      scrollTop: 60,
      scrollAreaOffsetY: 20,
      renderingOverflow: 12,
    });
    // Scroll: rows 0..19 and 80..399 (340 rows; the grid line 360 is composite row 300).
    // Overflow: composite rows 288..299 out (originals 348..359). Crop: composite rows 10..259.
    const pixels = await decodeRgba(cropped.bytes);
    expect([pixels.width, pixels.height]).to.deep.equal([200, 250]);
    expect(originalRows(pixels)).to.deep.equal([...consecutive(10, 10), ...consecutive(80, 240)]);
  });

  it('draws the metadata band above the image: the image below it unchanged, the band white with text', async () => {
    const png = await codedPng(640, 380);
    const request = screenshotRequest('http://127.0.0.1/x.png', {
      details: { ...screenshotRequest('').details, viewingDurationMs: 4210.5 },
    });
    const lines = metadataLines(
      {
        date: true,
        eventId: true,
        correlationId: false,
        selectionTxnId: false,
        user: true,
        appId: false,
        appName: true,
        sheetName: true,
        viewingDuration: true,
      },
      request,
    );
    expect(lines[0]).to.equal('DATE (UTC): 2026-10-14 08:15:23');
    expect(lines[1]).to.match(/^DATE \(LOCAL\): 2026-10-14 \d\d:\d\d:23 [+-]\d\d:\d\d$/);
    expect(lines.slice(2)).to.deep.equal([
      'EVENT ID: 5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d',
      'USER: CORP\\anna.lindqvist',
      'APP NAME: Sales Performance 2026',
      'SHEET NAME: Regional overview',
      'VIEWING DURATION (s): 4.21',
    ]);
    const withBand = await decodeRgba(await renderMetadataImage(png, lines));
    const band = withBand.height - 380;
    expect(withBand.width).to.equal(640);
    expect(band).to.be.greaterThan(7 * 10); // seven lines of text
    const below = await sharp(withBand.data, { raw: { width: 640, height: withBand.height, channels: 4 } })
      .extract({ left: 0, top: band, width: 640, height: 380 })
      .raw()
      .toBuffer();
    expect(below.equals((await decodeRgba(png)).data)).to.equal(true);
    const bandPixels = withBand.data.subarray(0, band * 640 * 4);
    expect([...bandPixels.subarray(0, 4)]).to.deep.equal([255, 255, 255, 255]); // white corner
    expect(bandPixels.some((value, index) => index % 4 !== 3 && value < 100)).to.equal(true); // dark text
  });

  it('writes markup characters and line breaks of a value as text, and cuts a long value at 160 characters', async () => {
    const request = screenshotRequest('http://127.0.0.1/x.png', {
      details: { ...screenshotRequest('').details, appName: `<b>&</b>\n${'x'.repeat(300)}` },
    });
    const fields = {
      ...Object.fromEntries(
        [
          'date',
          'eventId',
          'correlationId',
          'selectionTxnId',
          'user',
          'appId',
          'sheetName',
          'viewingDuration',
        ].map((key) => [key, false]),
      ),
      appName: true,
    };
    const lines = metadataLines(fields as Parameters<typeof metadataLines>[0], request);
    expect(lines).to.deep.equal([`APP NAME: <b>&</b>?${'x'.repeat(151)}...`]);
    const rendered = await decodeRgba(await renderMetadataImage(await codedPng(50, 20), lines));
    expect(rendered.width).to.be.greaterThan(50); // the band is wider than a narrow image, for its text
  });

  describe('through the saver', () => {
    let server: ImageServer;
    let saver: ScreenshotSaver;
    const root = tempDir('screenshot-image');
    const recording = recordingLogger('warn');

    before(async () => {
      server = await startImageServer();
      saver = await createScreenshotSaver(
        screenshotsConfig({
          allowedImageDownloadHosts: ['127.0.0.1'],
          storageTargets: [{ enable: true, directory: 'shots' }],
          addInImageMetadata: { enable: true, fields: { eventId: true, user: true } },
        }),
        { logger: recording.logger, baseDir: root },
      );
    });

    // Optional chaining: a before() that failed half-way still closes the server it started.
    after(async () => {
      await saver?.close();
      await server?.close();
    });

    it('saves the cropped image and its _metadata copy next to it, both listed', async () => {
      server.route('/sheet.png', serveBytes(await codedPng(800, 600)));
      const outcome = await saver.save(
        screenshotRequest(server.url('/sheet.png'), {
          crop: { top: 112, left: 24, width: 640, height: 380 },
        }),
      );
      const base = path.join(
        root,
        'shots',
        '20261014T081523.902Z_5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d_8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77',
      );
      expect(outcome).to.deep.equal({
        saved: true,
        savedPaths: [`${base}.png`, `${base}_metadata.png`],
        downloaded: true,
      });
      const image = await decodeRgba(`${base}.png`);
      const metadata = await sharp(`${base}_metadata.png`).metadata();
      expect([image.width, image.height]).to.deep.equal([640, 380]);
      expect(originalRows(image)[0]).to.equal(112);
      expect(metadata.width).to.equal(640);
      expect(metadata.height).to.be.greaterThan(380 + 2 * 10);
    });

    it('keeps the uncropped image of a PNG it cannot decode, and says why', async () => {
      const whole = await codedPng(300, 200);
      // Its header and end are intact, its compressed pixels garbage.
      const broken = Buffer.concat([
        whole.subarray(0, 100),
        Buffer.alloc(whole.length - 120, 7),
        whole.subarray(-20),
      ]);
      server.route('/broken.png', serveBytes(broken));
      recording.lines.length = 0;
      const outcome = await saver.save(
        screenshotRequest(server.url('/broken.png'), {
          eventId: 'broken',
          crop: { top: 10, left: 10, width: 50, height: 50 },
        }),
      );
      if (!outcome.saved) throw new Error(outcome.reason);
      expect(outcome.savedPaths).to.have.length(1); // no metadata copy of an image that cannot be read
      expect(readFileSync(outcome.savedPaths[0]).equals(broken)).to.equal(true);
      expect(recording.lines[0]).to.match(
        /^warn: screenshots: event broken: could not crop the screenshot, the uncropped image is kept: .+/,
      );
      expect(recording.lines[1]).to.match(
        /^warn: screenshots: event broken: no metadata image, the screenshot is saved without it: .+/,
      );
    });

    it('draws no metadata copy when filling a target that holds the copy already', async () => {
      const replayRoot = tempDir('screenshot-replay');
      const name = '20261014T081523.902Z_replay_8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77';
      // The held image cannot be decoded: drawing a copy of it would warn.
      const held = { a: [`${name}.png`, `${name}_metadata.png`], b: [`${name}_metadata.png`] };
      for (const [directory, names] of Object.entries(held)) {
        mkdirSync(path.join(replayRoot, directory));
        for (const file of names) writeFileSync(path.join(replayRoot, directory, file), 'not a png');
      }
      const replayLog = recordingLogger('warn');
      const replaySaver = await createScreenshotSaver(
        screenshotsConfig({
          allowedImageDownloadHosts: ['127.0.0.1'],
          storageTargets: [
            { enable: true, directory: 'a' },
            { enable: true, directory: 'b' },
          ],
          addInImageMetadata: { enable: true, fields: { eventId: true } },
        }),
        { logger: replayLog.logger, baseDir: replayRoot },
      );
      try {
        const outcome = await replaySaver.save(
          screenshotRequest(server.url('/never.png'), { eventId: 'replay' }),
        );
        const files = ['a', 'b'].flatMap((directory) =>
          [`${name}.png`, `${name}_metadata.png`].map((file) => path.join(replayRoot, directory, file)),
        );
        expect(outcome).to.deep.equal({ saved: true, savedPaths: files, downloaded: false });
        expect(readFileSync(files[2], 'utf8')).to.equal('not a png');
        expect(replayLog.lines).to.deep.equal([]);
      } finally {
        await replaySaver.close();
      }
    });
  });
});
