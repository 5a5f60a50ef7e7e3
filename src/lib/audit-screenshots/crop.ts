/**
 * Cuts a rendered PNG to the object the user saw (crop-geometry.ts says which rows and
 * columns). The pixels are decoded, cut and encoded by sharp (libvips) on libuv's thread pool,
 * not on the event loop; JavaScript only samples a few pixels per row when it looks for the
 * bottom grid line. An image that needs no cut is returned as downloaded, never re-encoded.
 */
import sharp from 'sharp';
import {
  compositeHeight,
  overflowComposite,
  scrollComposite,
  standardCrop,
  wholePixels,
  type RgbaPixels,
  type RowRange,
} from './crop-geometry.js';
import { SHARP_INPUT } from './image-format.js';
import type { ScreenshotCrop } from './request.js';

export interface CroppedImage {
  bytes: Buffer;
  width: number;
  height: number;
  /** False when the image was already the object: `bytes` are the downloaded ones. */
  cropped: boolean;
}

interface Cut {
  left: number;
  width: number;
  rows: RowRange[];
}

async function decode(png: Buffer): Promise<RgbaPixels> {
  const { data, info } = await sharp(png, SHARP_INPUT)
    .toColourspace('srgb')
    .ensureAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

function rawInput(pixels: RgbaPixels) {
  return sharp(pixels.data, { raw: { width: pixels.width, height: pixels.height, channels: 4 } });
}

/** The cut as a PNG: one extract for one band of rows, else the bands stacked on a canvas. */
async function encodeCut(png: Buffer, pixels: RgbaPixels | null, cut: Cut): Promise<Buffer> {
  const source = () => (pixels ? rawInput(pixels) : sharp(png, SHARP_INPUT));
  const region = (rows: RowRange) => ({
    left: cut.left,
    top: rows.start,
    width: cut.width,
    height: rows.end - rows.start,
  });
  if (cut.rows.length === 1) return source().extract(region(cut.rows[0])).png().toBuffer();
  const decoded = pixels ?? (await decode(png));
  const bands = await Promise.all(
    cut.rows.map(async (rows, index) => ({
      input: await rawInput(decoded).extract(region(rows)).raw().toBuffer(),
      raw: { width: cut.width, height: rows.end - rows.start, channels: 4 as const },
      top: compositeHeight(cut.rows.slice(0, index)),
      left: 0,
    })),
  );
  return sharp({
    create: {
      width: cut.width,
      height: compositeHeight(cut.rows),
      channels: 4,
      background: { r: 0, g: 0, b: 0, alpha: 0 },
    },
  })
    .composite(bands)
    .png()
    .toBuffer();
}

/**
 * The three steps of the crop: scroll composite, overflow composite, standard crop (see
 * crop-geometry.ts). Throws on an image sharp cannot read; the caller keeps the download then.
 */
export async function cropPng(png: Buffer, crop: ScreenshotCrop): Promise<CroppedImage> {
  const geometry = wholePixels(crop);
  const { width, height } = await sharp(png, SHARP_INPUT).metadata();
  let rows = scrollComposite(height, geometry);
  let pixels: RgbaPixels | null = null;
  if (geometry.renderingOverflow > 0) {
    pixels = await decode(png);
    rows = overflowComposite(pixels, rows, geometry.renderingOverflow);
  }
  const cut: Cut = standardCrop(width, rows, geometry) ?? { left: 0, width, rows };
  const untouched = cut.width === width && cut.rows.length === 1 && compositeHeight(cut.rows) === height;
  if (untouched) return { bytes: png, width, height, cropped: false };
  return {
    bytes: await encodeCut(png, pixels, cut),
    width: cut.width,
    height: compositeHeight(cut.rows),
    cropped: true,
  };
}
