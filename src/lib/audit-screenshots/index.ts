/**
 * Screenshots (docs/screenshots.md): the saver that downloads the image an event points to,
 * cuts it to the object, and saves it under a name built from the event's IDs. This folder
 * takes plain requests and knows nothing of envelopes, records, the log or destinations.
 */
export { createScreenshotSaver, openScreenshotSaver, type ScreenshotSaverDeps } from './screenshot-saver.js';
export type {
  ScreenshotCrop,
  ScreenshotDetails,
  ScreenshotOutcome,
  ScreenshotRequest,
  ScreenshotSaver,
} from './request.js';
