/**
 * Butler SOS's metadata image: a copy of the screenshot with a white band above it listing
 * the chosen fields, so that a picture shown on its own still says whose screen it was and
 * when. sharp renders the text (Pango, with the system's monospace font) and composes the
 * image on libuv's thread pool.
 */
import { DateTime } from 'luxon';
import sharp from 'sharp';
import type { ScreenshotMetadataFields } from '../config/screenshots-schema.js';
import { SHARP_INPUT } from './image-format.js';
import type { ScreenshotRequest } from './request.js';

const PADDING = 8;
const MAX_VALUE_CHARACTERS = 160;
const WHITE = { r: 255, g: 255, b: 255, alpha: 1 };
const SEPARATOR_GREY = { r: 200, g: 200, b: 200, alpha: 1 };

function shown(value: string | null): string {
  if (value === null || value === '') return 'n/a';
  // Control characters (a line break in a name) would break the band's lines.
  const printable = value.replace(/\p{Cc}/gu, '?');
  const characters = Array.from(printable);
  return characters.length > MAX_VALUE_CHARACTERS
    ? `${characters.slice(0, MAX_VALUE_CHARACTERS).join('')}...`
    : printable;
}

/** The band's lines for the chosen fields, in Butler SOS's order; empty when none is chosen. */
export function metadataLines(fields: ScreenshotMetadataFields, request: ScreenshotRequest): string[] {
  const { details } = request;
  const lines: string[] = [];
  const add = (chosen: boolean, label: string, value: string | null) => {
    if (chosen) lines.push(`${label}: ${shown(value)}`);
  };
  const time = DateTime.fromMillis(request.eventTimeMs);
  add(fields.date, 'DATE (UTC)', time.toUTC().toFormat('yyyy-LL-dd HH:mm:ss'));
  add(fields.date, 'DATE (LOCAL)', time.toFormat('yyyy-LL-dd HH:mm:ss ZZ'));
  add(fields.eventId, 'EVENT ID', request.eventId);
  add(fields.correlationId, 'CORRELATION ID', request.correlationId);
  add(fields.selectionTxnId, 'SELECTION TXN ID', details.selectionTxnId);
  add(fields.user, 'USER', details.user);
  add(fields.appId, 'APP ID', details.appId);
  add(fields.appName, 'APP NAME', details.appName);
  add(fields.sheetName, 'SHEET NAME', details.sheetName);
  const duration = details.viewingDurationMs;
  add(
    fields.viewingDuration,
    'VIEWING DURATION (s)',
    duration === null ? null : (duration / 1000).toFixed(2),
  );
  return lines;
}

/** Text as Pango markup reads it: sharp's text input is markup, so `<` and `&` must be escaped. */
function markupText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The image with the band of `lines` above it, as a PNG; at least as wide as the image. */
export async function renderMetadataImage(png: Buffer, lines: readonly string[]): Promise<Buffer> {
  const { width, height } = await sharp(png, SHARP_INPUT).metadata();
  const text = await sharp({
    text: {
      text: `<span foreground="black">${markupText(lines.join('\n'))}</span>`,
      font: 'monospace 11',
      dpi: 72,
      rgba: true,
    },
  })
    .png()
    .toBuffer({ resolveWithObject: true });
  const bandHeight = text.info.height + 2 * PADDING;
  const bandWidth = Math.max(width, text.info.width + 2 * PADDING);
  return sharp({ create: { width: bandWidth, height: bandHeight + height, channels: 4, background: WHITE } })
    .composite([
      { input: text.data, top: PADDING, left: PADDING },
      {
        input: { create: { width: bandWidth, height: 1, channels: 4, background: SEPARATOR_GREY } },
        top: bandHeight - 1,
        left: 0,
      },
      { input: png, top: bandHeight, left: 0, ...SHARP_INPUT },
    ])
    .png()
    .toBuffer();
}
