/**
 * Screenshot test helpers: a validated `destination.screenshots` config, a request as the
 * event handler makes it, and PNGs whose every pixel says where it came from (R and G hold its
 * row, B its column), so that a test can tell exactly which rows and columns a crop kept.
 */
import sharp from 'sharp';
import type { ScreenshotRequest } from '../../src/lib/audit-screenshots/index.js';
import type { ScreenshotsConfig } from '../../src/lib/config/screenshots-schema.js';
import { validConfig } from './config.js';

export function screenshotsConfig(raw: Record<string, unknown>): ScreenshotsConfig {
  return validConfig({ destination: { screenshots: { enable: true, ...raw } } }).destination.screenshots;
}

/** 2026-10-14T08:15:23.902Z, the fixture's event time. */
export const EVENT_TIME_MS = Date.parse('2026-10-14T08:15:23.902Z');

export function screenshotRequest(
  url: string,
  overrides: Partial<ScreenshotRequest> = {},
): ScreenshotRequest {
  return {
    url,
    eventTimeMs: EVENT_TIME_MS,
    eventId: '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d',
    correlationId: '8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77',
    identity: { userDirectory: 'CORP', userId: 'anna.lindqvist' },
    crop: null,
    details: {
      selectionTxnId: '8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77',
      user: 'CORP\\anna.lindqvist',
      appId: '6f0c3a9e-2b1d-4c8f-9e7a-1d2b3c4d5e6f',
      appName: 'Sales Performance 2026',
      sheetName: 'Regional overview',
      viewingDurationMs: null,
    },
    ...overrides,
  };
}

export interface Rgba {
  data: Buffer;
  width: number;
  height: number;
}

/** An RGBA pixel buffer where pixel (x, y) is (y & 255, y >> 8, x & 255, 255). */
export function codedPixels(width: number, height: number): Rgba {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y += 1) {
    const row = y * width * 4;
    for (let x = 0; x < width; x += 1) {
      const i = row + x * 4;
      data[i] = y & 255;
      data[i + 1] = y >> 8;
      data[i + 2] = x & 255;
      data[i + 3] = 255;
    }
  }
  return { data, width, height };
}

export function encodePng(pixels: Rgba): Promise<Buffer> {
  return sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: 4 } })
    .png()
    .toBuffer();
}

/** A PNG of codedPixels(width, height). */
export function codedPng(width: number, height: number): Promise<Buffer> {
  return encodePng(codedPixels(width, height));
}

/** Decodes a PNG (a buffer or a file) to RGBA. */
export async function decodeRgba(input: Buffer | string): Promise<Rgba> {
  const { data, info } = await sharp(input).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** The original row and column a pixel of a codedPixels image came from (column mod 256). */
export function origin(pixels: Rgba, x: number, y: number): { row: number; column: number } {
  const i = (y * pixels.width + x) * 4;
  return { row: pixels.data[i] + pixels.data[i + 1] * 256, column: pixels.data[i + 2] };
}

/** The original rows of column 0, top to bottom: what a crop kept, row by row. */
export function originalRows(pixels: Rgba): number[] {
  return Array.from({ length: pixels.height }, (_, y) => origin(pixels, 0, y).row);
}

/** `count` consecutive numbers from `start`. */
export function consecutive(start: number, count: number): number[] {
  return Array.from({ length: count }, (_, index) => start + index);
}
