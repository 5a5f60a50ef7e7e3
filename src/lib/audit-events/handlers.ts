/**
 * Per-type handlers: what an event type adds to its record (the extras). Handlers are
 * idempotent, so that a replayed event gets the same extras.
 */
import type { Logger } from '../logger.js';
import type { AuditEnvelope, HandlerExtras, SelectionDetail } from './types.js';

export interface HandlerDeps {
  logger: Logger;
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

/** The handler of each event type that has one; other types get no extras. */
export function createAuditEventHandlers(): ReadonlyMap<string, AuditEventHandler> {
  return new Map<string, AuditEventHandler>([
    ['selection.state.changed', handleSelectionStateChanged],
    ['app.model.validated', handleAppModelValidated],
    ['event.unsupported.visualization', handleUnsupportedVisualization],
    ['navigation.sheet.loaded', handleSheetLoaded],
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
