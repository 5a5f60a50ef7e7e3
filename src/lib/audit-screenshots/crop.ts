/**
 * Cuts a rendered PNG to the object the user saw (crop-geometry.ts says which rows and
 * columns). The pixels are decoded, cut and encoded by sharp (libvips) on libuv's thread pool,
 * not on the event loop; JavaScript only samples a few pixels per row when it looks for the
 * bottom grid line. An image that needs no cut is returned as downloaded, never re-encoded.
 */
import sharp from 'sharp';
import {
  compositeHeight,
  gridLineSearchRows,
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
  /** False when the image was already the object: `bytes` are the downloaded ones. */
  cropped: boolean;
}

interface Cut {
  left: number;
  width: number;
  rows: RowRange[];
}

/** The original rows [first, last], decoded: what the grid-line search samples. */
async function decodeRows(png: Buffer, width: number, first: number, last: number): Promise<RgbaPixels> {
  const data = await sharp(png, SHARP_INPUT)
    .extract({ left: 0, top: first, width, height: last - first + 1 })
    .toColourspace('srgb')
    .ensureAlpha()
    .raw({ depth: 'uchar' })
    .toBuffer();
  return { data, width, top: first };
}

/**
 * The cut as a PNG, in one sharp pipeline: the tallest band of rows is extracted and extended
 * by the height of the others, which are composed into place. Only those smaller bands (a
 * title, a table's bottom margin) are ever held by JavaScript; the image's pixels stay in
 * libvips, which keeps the event loop clear of large buffers and their collection.
 */
async function encodeCut(png: Buffer, cut: Cut): Promise<Buffer> {
  const source = () => sharp(png, SHARP_INPUT);
  const region = (rows: RowRange) => ({
    left: cut.left,
    top: rows.start,
    width: cut.width,
    height: rows.end - rows.start,
  });
  const heights = cut.rows.map((rows) => rows.end - rows.start);
  const tallest = heights.indexOf(Math.max(...heights));
  const above = compositeHeight(cut.rows.slice(0, tallest));
  const below = compositeHeight(cut.rows.slice(tallest + 1));
  const others = await Promise.all(
    cut.rows.map(async (rows, index) =>
      index === tallest
        ? null
        : {
            input: await source()
              .extract(region(rows))
              .toColourspace('srgb')
              .ensureAlpha()
              .raw({ depth: 'uchar' })
              .toBuffer(),
            raw: { width: cut.width, height: heights[index], channels: 4 as const },
            top: compositeHeight(cut.rows.slice(0, index)),
            left: 0,
          },
    ),
  );
  const base = source().extract(region(cut.rows[tallest]));
  const extended =
    above + below > 0
      ? base.extend({ top: above, bottom: below, background: { r: 0, g: 0, b: 0, alpha: 0 } })
      : base;
  return extended
    .composite(others.filter((band) => band !== null))
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
  const searched = geometry.renderingOverflow > 0 ? gridLineSearchRows(rows) : null;
  if (searched) {
    const pixels = await decodeRows(png, width, searched.first, searched.last);
    rows = overflowComposite(pixels, rows, geometry.renderingOverflow);
  }
  const cut: Cut = standardCrop(width, rows, geometry) ?? { left: 0, width, rows };
  const untouched = cut.width === width && cut.rows.length === 1 && compositeHeight(cut.rows) === height;
  if (untouched) return { bytes: png, cropped: false };
  return { bytes: await encodeCut(png, cut), cropped: true };
}
