/**
 * The shapes that flow through the module: the envelope the extension posts, the extras a
 * type handler computes, and the one normalised record every destination writes.
 */

export interface AuditContext {
  appId?: string;
  appName?: string;
  sheetId?: string;
  sheetName?: string;
  user?: string;
  userAgent?: string;
  [key: string]: unknown;
}

export interface AuditEnvelope {
  schemaVersion: number;
  eventId: string;
  correlationId?: string;
  timestamp: string;
  type: string;
  source?: { kind?: string; name?: string; version?: string; [key: string]: unknown };
  payload: {
    context?: AuditContext;
    event?: Record<string, unknown>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface SelectionDetail {
  qField: unknown;
  qSelectedCount: unknown;
  qSelected: unknown;
  qStateName: unknown;
}

/** What a type handler adds to an event; computed once per event and shared by destinations. */
export interface HandlerExtras {
  selectionDetails?: SelectionDetail[];
  dataStateId?: number | null;
  /** navigation.sheet.loaded: the sheet of `payload.event` when the context has none. */
  sheetId?: string;
  screenshot?: { savedPaths: string[] };
}

/**
 * One normalised audit event. Built once by toAuditRecord(); destinations read only this,
 * and share one object per event, so nothing may change it.
 * Values are kept exactly as sent; each destination applies its own storage limits
 * (Parquet rounds durationMs to INT64, InfluxDB escapes line protocol).
 */
export interface AuditRecord {
  /** Event time, ms since epoch (UTC). */
  readonly timestampMs: number;
  /** YYYYMMDD of the event time, UTC. */
  readonly date: string;
  readonly eventId: string;
  readonly correlationId: string | null;
  readonly eventType: string;
  readonly user: string | null;
  readonly userDirectory: string | null;
  readonly userId: string | null;
  readonly appId: string | null;
  readonly appName: string | null;
  readonly sheetId: string | null;
  readonly sheetName: string | null;
  readonly objectId: string | null;
  readonly objectType: string | null;
  readonly selectionTxnId: string | null;
  /** payload.event.duration exactly as sent, when it is a finite number in 0..2^53-1. */
  readonly durationMs: number | null;
  readonly visible: boolean | null;
  readonly enteredAt: string | null;
  readonly leftAt: string | null;
  readonly enterSelectionTxnId: string | null;
  readonly leaveSelectionTxnId: string | null;
  readonly dataStateId: number | null;
  /** JSON text for structured values, made once here for every destination. */
  readonly selectionDetails: string | null;
  readonly screenshotUrl: string | null;
  /** The saved screenshot files as a JSON array of absolute paths. */
  readonly screenshotSavedPaths: string | null;
  readonly objectData: string | null;
  /**
   * The envelope as accepted, as JSON text, when a destination keeps it (Parquet's
   * includeEnvelope): whatever the extension sends that no column holds is never lost.
   */
  readonly envelope: string | null;
}
