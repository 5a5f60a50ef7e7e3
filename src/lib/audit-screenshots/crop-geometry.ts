/**
 * The geometry of the crop, as rows kept from the rendered image: the scroll composite, the
 * overflow composite and the standard crop each narrow a list of row ranges of the original,
 * so that the pixels are cut once, at the end (crop.ts), whatever the steps.
 *
 * Why the steps exist: Qlik's renderer draws an object from scroll position 0 and draws every
 * row in full. When the user had scrolled, the rows scrolled past sit between the title and
 * what was on screen (the scroll composite takes them out); when the last visible row was
 * partly hidden, the renderer drew it whole above the table's bottom grid line (the overflow
 * composite takes those rows out, just above that line).
 */
import type { ScreenshotCrop } from './request.js';

/** Rows [start, end) of the original image. */
export interface RowRange {
  start: number;
  end: number;
}

/** The crop in whole pixels, every value floored and missing ones 0. */
export interface WholePixelCrop {
  top: number;
  left: number;
  width: number;
  height: number;
  scrollTop: number;
  scrollAreaOffsetY: number;
  renderingOverflow: number;
}

export function wholePixels(crop: ScreenshotCrop): WholePixelCrop {
  const floor = (value: number | undefined) => Math.max(0, Math.floor(value ?? 0));
  return {
    top: floor(crop.top),
    left: floor(crop.left),
    width: floor(crop.width),
    height: floor(crop.height),
    scrollTop: floor(crop.scrollTop),
    scrollAreaOffsetY: floor(crop.scrollAreaOffsetY),
    renderingOverflow: floor(crop.renderingOverflow),
  };
}

export function compositeHeight(ranges: readonly RowRange[]): number {
  return ranges.reduce((sum, range) => sum + range.end - range.start, 0);
}

/** The original row shown at `row` of the composite. */
export function originalRow(ranges: readonly RowRange[], row: number): number {
  let offset = row;
  for (const range of ranges) {
    const length = range.end - range.start;
    if (offset < length) return range.start + offset;
    offset -= length;
  }
  throw new RangeError(`row ${row} is outside the composite`);
}

/** The composite's rows [from, to) only. */
export function keepRows(ranges: readonly RowRange[], from: number, to: number): RowRange[] {
  const kept: RowRange[] = [];
  let position = 0;
  for (const range of ranges) {
    const length = range.end - range.start;
    const start = Math.max(from, position);
    const end = Math.min(to, position + length);
    if (start < end) kept.push({ start: range.start + start - position, end: range.start + end - position });
    position += length;
  }
  return kept;
}

/** The composite without its rows [from, to). */
export function removeRows(ranges: readonly RowRange[], from: number, to: number): RowRange[] {
  return [...keepRows(ranges, 0, from), ...keepRows(ranges, to, compositeHeight(ranges))];
}

/**
 * Step 1, when the object was scrolled: the rows above the scroll area, then those from
 * `scrollAreaOffsetY + scrollTop` on.
 */
export function scrollComposite(height: number, crop: WholePixelCrop): RowRange[] {
  const whole = [{ start: 0, end: height }];
  if (crop.scrollTop === 0 || crop.scrollAreaOffsetY + crop.scrollTop >= height) return whole;
  return removeRows(whole, crop.scrollAreaOffsetY, crop.scrollAreaOffsetY + crop.scrollTop);
}

/** Decoded rows of the original: 4 bytes (R, G, B, A) per pixel, from row `top` on. */
export interface RgbaPixels {
  data: Uint8Array;
  width: number;
  /** The original row the data starts at. */
  top: number;
}

const SAMPLE_STEP = 10;
const MIN_SAMPLES = 11;
const CHANNEL_TOLERANCE = 5;
const GRID_LINE_BRIGHTNESS = { min: 160, max: 245 };
/** A row above the line that is itself uniform must be this much brighter (a white row over a grey line). */
const BRIGHTER_ABOVE = 8;

interface RowSample {
  uniform: boolean;
  brightness: number;
  grey: boolean;
}

/**
 * One row, sampled every 10 pixels between margins (the table's outer frame has its own
 * colour), against a reference pixel at a quarter of the width.
 */
function sampleRow(pixels: RgbaPixels, row: number): RowSample {
  const { data, width } = pixels;
  const margin = Math.min(50, Math.floor(width * 0.05));
  const at = (x: number) => ((row - pixels.top) * width + x) * 4;
  const ref = at(Math.floor(width / 4));
  const [r, g, b] = [data[ref], data[ref + 1], data[ref + 2]];
  let samples = 0;
  let uniform = true;
  for (let x = margin; x < width - margin && uniform; x += SAMPLE_STEP) {
    const i = at(x);
    uniform =
      Math.abs(data[i] - r) <= CHANNEL_TOLERANCE &&
      Math.abs(data[i + 1] - g) <= CHANNEL_TOLERANCE &&
      Math.abs(data[i + 2] - b) <= CHANNEL_TOLERANCE;
    samples += 1;
  }
  const grey =
    Math.abs(r - g) <= CHANNEL_TOLERANCE &&
    Math.abs(g - b) <= CHANNEL_TOLERANCE &&
    Math.abs(r - b) <= CHANNEL_TOLERANCE;
  return { uniform: uniform && samples >= MIN_SAMPLES, brightness: (r + g + b) / 3, grey };
}

/** The highest composite row the search looks at (the row above it is compared too). */
function gridLineSearchStart(ranges: readonly RowRange[]): number {
  return Math.max(1, Math.floor(compositeHeight(ranges) / 2));
}

/** The original rows [first, last] the grid-line search reads: only those need decoding. */
export function gridLineSearchRows(ranges: readonly RowRange[]): { first: number; last: number } | null {
  const height = compositeHeight(ranges);
  const start = gridLineSearchStart(ranges);
  if (height - 5 < start) return null;
  return { first: originalRow(ranges, start - 1), last: originalRow(ranges, height - 5) };
}

/**
 * Step 2's anchor: the composite row of the table's bottom grid line, or -1. It is the lowest
 * row (from 5 rows above the bottom up to the middle) that is one light grey (brightness
 * 160..245, R, G and B within ±5) across, with the row above it varied, or more than 8 brighter.
 */
function findBottomGridLine(pixels: RgbaPixels, ranges: readonly RowRange[]): number {
  const height = compositeHeight(ranges);
  for (let row = height - 5; row >= gridLineSearchStart(ranges); row -= 1) {
    const line = sampleRow(pixels, originalRow(ranges, row));
    if (!line.uniform || !line.grey) continue;
    if (line.brightness < GRID_LINE_BRIGHTNESS.min || line.brightness > GRID_LINE_BRIGHTNESS.max) continue;
    const above = sampleRow(pixels, originalRow(ranges, row - 1));
    if (!above.uniform || above.brightness - line.brightness > BRIGHTER_ABOVE) return row;
  }
  return -1;
}

/** Step 2: the `renderingOverflow` rows just above the bottom grid line taken out. */
export function overflowComposite(
  pixels: RgbaPixels,
  ranges: readonly RowRange[],
  renderingOverflow: number,
): RowRange[] {
  const gridLine = findBottomGridLine(pixels, ranges);
  if (gridLine < 0 || gridLine - renderingOverflow < 0) return [...ranges];
  return removeRows(ranges, gridLine - renderingOverflow, gridLine);
}

/** Step 3: the columns and rows of the object, clamped to the image; null when nothing is cut. */
export function standardCrop(
  width: number,
  ranges: readonly RowRange[],
  crop: WholePixelCrop,
): { left: number; width: number; rows: RowRange[] } | null {
  const height = compositeHeight(ranges);
  const cropWidth = Math.min(crop.width, width - crop.left);
  const cropHeight = Math.min(crop.height, height - crop.top);
  // An image no larger than the object is the object already; a crop outside it cuts nothing.
  if ((width <= crop.width && height <= crop.height) || cropWidth <= 0 || cropHeight <= 0) return null;
  return { left: crop.left, width: cropWidth, rows: keepRows(ranges, crop.top, crop.top + cropHeight) };
}
