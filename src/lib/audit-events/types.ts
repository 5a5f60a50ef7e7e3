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
}

/** What a type handler adds to an event; computed once per event and shared by destinations. */
export interface HandlerExtras {
  selectionDetails?: SelectionDetail[];
  dataStateId?: number | null;
  screenshot?: { savedPaths: string[] };
}

/**
 * One normalised audit event. Built once by toAuditRecord(); destinations read only this.
 * Values are kept exactly as sent; each destination applies its own storage limits
 * (Parquet rounds durationMs to INT64, InfluxDB escapes line protocol).
 */
export interface AuditRecord {
  /** Event time, ms since epoch (UTC). */
  timestampMs: number;
  /** YYYYMMDD of the event time, UTC. */
  date: string;
  eventId: string;
  correlationId: string | null;
  eventType: string;
  user: string | null;
  userDirectory: string | null;
  userId: string | null;
  appId: string | null;
  appName: string | null;
  sheetId: string | null;
  sheetName: string | null;
  objectId: string | null;
  objectType: string | null;
  selectionTxnId: string | null;
  /** payload.event.duration exactly as sent, when it is a finite number in 0..2^53-1. */
  durationMs: number | null;
  visible: boolean | null;
  enteredAt: string | null;
  leftAt: string | null;
  enterSelectionTxnId: string | null;
  leaveSelectionTxnId: string | null;
  dataStateId: number | null;
  /** JSON strings for structured values. */
  selectionDetails: string | null;
  screenshotUrl: string | null;
  screenshotSavedPaths: string[] | null;
  objectData: string | null;
}
