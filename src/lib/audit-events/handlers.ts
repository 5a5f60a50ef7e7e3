/**
 * Per-type handlers: what an event type adds to its record (the extras). Handlers are
 * idempotent, so that a replayed event gets the same extras.
 */
import type { ScreenshotCrop, ScreenshotRequest, ScreenshotSaver } from '../audit-screenshots/index.js';
import type { Logger } from '../logger.js';
import { toAuditRecord } from './record.js';
import type { AuditEnvelope, HandlerExtras, SelectionDetail } from './types.js';

/** What a handler is given with each event. */
export interface HandlerDeps {
  logger: Logger;
}

/** What the handlers are made with. */
export interface HandlerOptions {
  /** Saves screenshots when `destination.screenshots.enable` is true; without it they are not downloaded. */
  screenshots?: ScreenshotSaver;
}

export type AuditEventHandler = (
  envelope: AuditEnvelope,
  deps: HandlerDeps,
) => Promise<HandlerExtras> | HandlerExtras;

function reduceSelectionDetails(details: unknown): SelectionDetail[] {
  if (!Array.isArray(details)) return [];
  return details.map((item: Record<string, unknown> | null) => ({
    qField: item?.qField ?? null,
    qSelectedCount: item?.qSelectedCount ?? null,
    qSelected: item?.qSelected ?? null,
    // Tells a selection in an alternate state from one in the default state ('$').
    qStateName: item?.qStateName ?? null,
  }));
}

const handleSelectionStateChanged: AuditEventHandler = (envelope) => ({
  selectionDetails: reduceSelectionDetails(envelope.payload.event?.details),
});

const handleAppModelValidated: AuditEventHandler = (envelope) => {
  const dataStateId = envelope.payload.event?.dataStateId;
  return { dataStateId: typeof dataStateId === 'number' ? dataStateId : null };
};

/** Some extension versions send the sheet only in the event, not in the context. */
const handleSheetLoaded: AuditEventHandler = (envelope) => {
  const sheetId = envelope.payload.event?.sheetId;
  return typeof sheetId === 'string' && sheetId !== '' ? { sheetId } : {};
};

const handleUnsupportedVisualization: AuditEventHandler = (envelope, { logger }) => {
  const event = envelope.payload.event ?? {};
  logger.warn(
    `Audit.qs cannot capture visualization type '${String(event.vizType)}' (object ${String(event.objectId ?? 'unknown')})`,
  );
  return {};
};

/** What the screenshot saver needs of an event, read through the one mapping (record.ts). */
function screenshotRequestOf(envelope: AuditEnvelope): ScreenshotRequest | null {
  const record = toAuditRecord(envelope);
  if (!record.screenshotUrl) return null;
  const crop = envelope.payload.event?.crop as ScreenshotCrop | undefined;
  const { userDirectory, userId } = record;
  return {
    url: record.screenshotUrl,
    eventTimeMs: record.timestampMs,
    eventId: record.eventId,
    correlationId: record.correlationId,
    identity: userDirectory && userId ? { userDirectory, userId } : null,
    crop: crop && typeof crop === 'object' ? crop : null,
    details: {
      selectionTxnId: record.selectionTxnId,
      user: record.user,
      appId: record.appId,
      appName: record.appName,
      sheetName: record.sheetName,
      viewingDurationMs: record.durationMs,
    },
  };
}

/** Downloads and saves the screenshot; a failure costs the paths, never the event. */
function screenshotUrlReceivedHandler(screenshots: ScreenshotSaver): AuditEventHandler {
  return async (envelope, { logger }) => {
    const request = screenshotRequestOf(envelope);
    if (!request) return {};
    const outcome = await screenshots.save(request);
    if (!outcome.saved) {
      logger.warn(`screenshot of event ${envelope.eventId} not saved: ${outcome.reason}`);
      return {};
    }
    return { screenshot: { savedPaths: outcome.savedPaths } };
  };
}

/** The handler of each event type that has one; other types get no extras. */
export function createAuditEventHandlers(
  options: HandlerOptions = {},
): ReadonlyMap<string, AuditEventHandler> {
  const { screenshots } = options;
  return new Map<string, AuditEventHandler>([
    ['selection.state.changed', handleSelectionStateChanged],
    ['app.model.validated', handleAppModelValidated],
    ['event.unsupported.visualization', handleUnsupportedVisualization],
    ['navigation.sheet.loaded', handleSheetLoaded],
    ...(screenshots ? [['screenshot.url.received', screenshotUrlReceivedHandler(screenshots)] as const] : []),
  ]);
}

/** Runs the event's handler, if its type has one. */
export async function computeHandlerExtras(
  handlers: ReadonlyMap<string, AuditEventHandler>,
  envelope: AuditEnvelope,
  deps: HandlerDeps,
): Promise<HandlerExtras> {
  const handler = handlers.get(envelope.type);
  return handler ? await handler(envelope, deps) : {};
}
