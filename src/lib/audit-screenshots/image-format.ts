/**
 * What a downloaded image really is. The content type is the server's word; the bytes are
 * checked too (sharp reads the header, off the event loop), so that a page that says
 * image/png and sends HTML, or a JPEG, is not saved as a PNG.
 */
import sharp from 'sharp';
import { ScreenshotFailure } from './failure.js';
import type { ImageFormat } from './file-names.js';
import type { ImageContentType } from './image-request.js';

const FORMAT_OF_CONTENT_TYPE: Readonly<Record<ImageContentType, ImageFormat>> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/webp': 'webp',
  'image/gif': 'gif',
};

/**
 * Images larger than this (in pixels) are stored as downloaded, never decoded: 50 megapixels
 * (8660 × 5773) is 200 MB decoded, and a small PNG can claim far more than it holds.
 */
const MAX_IMAGE_PIXELS = 50_000_000;

/** sharp's input options for every image the saver reads. */
export const SHARP_INPUT = { limitInputPixels: MAX_IMAGE_PIXELS } as const;

/** The format of `bytes`, once it matches the content type it came with. */
export async function verifiedFormat(bytes: Buffer, contentType: ImageContentType): Promise<ImageFormat> {
  const declared = FORMAT_OF_CONTENT_TYPE[contentType];
  let actual: string | undefined;
  try {
    // metadata() reads the header only; the pixel limit is checked when pixels are decoded.
    actual = (await sharp(bytes, { limitInputPixels: false }).metadata()).format;
  } catch {
    actual = undefined;
  }
  if (actual !== declared)
    throw new ScreenshotFailure(
      `the answer says content type ${contentType} but holds ${actual ? `a ${actual} image` : 'no image sharp can read'}`,
    );
  return declared;
}
