/**
 * What the screenshot saver is asked to do and what it answers. Plain values: this folder
 * knows nothing of envelopes, records or destinations; the event handler maps an event to a
 * request (src/lib/audit-events/handlers.ts).
 */

/** Where the object sat in the rendered image, in CSS pixels (fractions are floored). */
export interface ScreenshotCrop {
  top?: number;
  left?: number;
  width: number;
  height: number;
  /** How far the object's scroll area was scrolled when the extension captured it. */
  scrollTop?: number;
  /** Where the scroll area starts below the object's title. */
  scrollAreaOffsetY?: number;
  /** Rows the renderer drew beyond what was on screen, above the table's bottom grid line. */
  renderingOverflow?: number;
}

/** The values the metadata image can show; null when the event has none. */
export interface ScreenshotDetails {
  selectionTxnId: string | null;
  /** The user as the event names them (`DIRECTORY\user`). */
  user: string | null;
  appId: string | null;
  appName: string | null;
  sheetName: string | null;
  viewingDurationMs: number | null;
}

export interface ScreenshotRequest {
  /** The image URL the extension points to (payload.event.screenshotUrl). */
  url: string;
  /** Event time, ms since the epoch: part of the file name. */
  eventTimeMs: number;
  eventId: string;
  correlationId: string | null;
  /** The event's user, for auth.mode userTicket: null when the event names none. */
  identity: { userDirectory: string; userId: string } | null;
  crop: ScreenshotCrop | null;
  details: ScreenshotDetails;
}

export type ScreenshotOutcome =
  /** Absolute paths: each target's image, then its metadata copy when there is one. */
  | { saved: true; savedPaths: string[]; downloaded: boolean }
  /** Why nothing was saved, in words an administrator can act on. */
  | { saved: false; reason: string };

export interface ScreenshotSaver {
  save(request: ScreenshotRequest): Promise<ScreenshotOutcome>;
  /** Ends downloads in progress and the Qlik sessions it keeps. */
  close(): Promise<void>;
}
