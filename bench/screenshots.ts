/**
 * Screenshots: the event-loop delay (p50, p99, max, from perf_hooks.monitorEventLoopDelay)
 * while the compiled saver downloads, crops (scroll composite and standard crop) and makes the
 * metadata copy of 6000×4000 PNGs, against the same process idle. Next to it, the least a
 * decoder written in JavaScript would block the loop per image: inflating the PNG's pixel data
 * synchronously, which every such decoder does first.
 */
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { createScreenshotSaver } from '../dist/lib/audit-screenshots/index.js';
import { createSilentLogger } from '../dist/lib/logger.js';
import { screenshotRequest, screenshotsConfig } from '../test/support/screenshots.js';

const WIDTH = 6000;
const HEIGHT = 4000;
const CONCURRENCY = 3;

/** A large, compressible PNG, as a rendered sheet is: each row one shade, each column another. */
async function largePng(): Promise<Buffer> {
  const data = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y += 1)
    for (let x = 0; x < WIDTH; x += 1) data.set([y & 255, (y >> 8) * 16, x & 255], (y * WIDTH + x) * 3);
  return sharp(data, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
    .png()
    .toBuffer();
}

/** The concatenated IDAT chunks of a PNG: its compressed pixel rows. */
function idatData(png: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let offset = 8; offset < png.length;) {
    const length = png.readUInt32BE(offset);
    if (png.toString('latin1', offset + 4, offset + 8) === 'IDAT')
      parts.push(png.subarray(offset + 8, offset + 8 + length));
    offset += 12 + length;
  }
  return Buffer.concat(parts);
}

interface Delay {
  p50: number;
  p99: number;
  max: number;
}

async function measureDelay(work: () => Promise<void>): Promise<Delay> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  await work();
  histogram.disable();
  const ms = (ns: number) => ns / 1e6;
  return { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) };
}

function formatDelay(label: string, delay: Delay, extra = ''): string {
  return (
    `${label.padEnd(46)} event-loop delay p50 ${delay.p50.toFixed(1).padStart(6)} ms  ` +
    `p99 ${delay.p99.toFixed(1).padStart(6)} ms  max ${delay.max.toFixed(1).padStart(6)} ms${extra}`
  );
}

export async function benchScreenshots(images: number): Promise<string[]> {
  const png = await largePng();
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length }).end(png);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/sheet.png`;
  const config = screenshotsConfig({
    allowedImageDownloadHosts: ['127.0.0.1'],
    maxBytes: 64 * 1024 * 1024,
    storageTargets: [{ enable: true, directory: mkdtempSync(path.join(os.tmpdir(), 'bench-screenshots-')) }],
    addInImageMetadata: {
      enable: true,
      fields: { date: true, eventId: true, user: true, appName: true },
    },
  });
  const saver = await createScreenshotSaver(config, { logger: createSilentLogger(), baseDir: process.cwd() });
  const crop = { top: 20, left: 1000, width: 4000, height: 3000, scrollTop: 200, scrollAreaOffsetY: 50 };
  const request = (index: number) =>
    screenshotRequest(url, { eventTimeMs: Date.now(), eventId: `bench-${index}-${Date.now()}`, crop });

  try {
    const idle = await measureDelay(() => sleep(2000));
    let saved = 0;
    const started = performance.now();
    const busy = await measureDelay(async () => {
      let next = 0;
      const worker = async () => {
        while (next < images) {
          const outcome = await saver.save(request(next++));
          if (!outcome.saved) throw new Error(outcome.reason);
          saved += 1;
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    });
    const seconds = (performance.now() - started) / 1000;
    const compressed = idatData(png);
    const inflateMs = [1, 2, 3]
      .map(() => {
        const start = performance.now();
        inflateSync(compressed);
        return performance.now() - start;
      })
      .sort((a, b) => a - b)[1];
    return [
      formatDelay('idle (ceiling)', idle),
      formatDelay(
        `${saved} screenshots ${WIDTH}x${HEIGHT}, ${CONCURRENCY} at once`,
        busy,
        `  ${(seconds / saved).toFixed(2)} s per image (download, crop, metadata copy, fsync)`,
      ),
      `a JavaScript decoder would block the loop >= ${inflateMs.toFixed(0)} ms per image ` +
        `(inflateSync of its ${(compressed.length / 1e6).toFixed(1)} MB of pixel data alone)`,
    ];
  } finally {
    await saver.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
