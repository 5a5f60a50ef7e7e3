/**
 * The one mapping from an envelope (plus its handler extras) to the AuditRecord every
 * destination writes. Upstream maps the envelope twice and the two mappings drift; here
 * InfluxDB and Parquet both read this record and nothing else.
 */
import { eventTimeMs, utcDate } from './event-time.js';
import type { AuditEnvelope, AuditRecord, HandlerExtras } from './types.js';

export interface UserIdentity {
  userDirectory: string | null;
  userId: string | null;
}

// `s`: a user id may hold a line break (or U+2028), which `.` alone would not match.
const USER_DIRECTORY_AND_ID = /^\s*(?:UserDirectory=)?([^;]*?)\s*;\s*UserId=(.*?)\s*$/is;
const DOMAIN_BACKSLASH_USER = /^([^\\]+)\\(.+)$/s;

/** Parses `UserDirectory=X; UserId=Y`, `X; UserId=Y` and `X\Y`; anything else gives nulls. */
export function parseUserIdentity(user: string | null): UserIdentity {
  const match = user ? (USER_DIRECTORY_AND_ID.exec(user) ?? DOMAIN_BACKSLASH_USER.exec(user)) : null;
  if (!match || !match[1] || !match[2]) return { userDirectory: null, userId: null };
  return { userDirectory: match[1], userId: match[2] };
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

function nonEmptyText(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** A duration Parquet and InfluxDB can both hold: finite, 0..2^53-1 (fractions kept here). */
function duration(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= Number.MAX_SAFE_INTEGER
    ? value
    : null;
}

function safeInteger(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : null;
}

/** A safe integer, or a string of decimal digits that is one (dataStateId may come as either). */
function integerOrDigits(value: unknown): number | null {
  if (typeof value === 'string' && /^\d{1,16}$/.test(value)) return safeInteger(Number(value));
  return safeInteger(value);
}

function jsonText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export interface RecordOptions {
  /** Keep the envelope as JSON text in the record (Parquet's `envelope` column); off, null. */
  withEnvelope?: boolean;
}

export function toAuditRecord(
  envelope: AuditEnvelope,
  extras: HandlerExtras = {},
  options: RecordOptions = {},
): AuditRecord {
  const context = envelope.payload?.context ?? {};
  const event = envelope.payload?.event ?? {};
  const objectData = event.objectData as { objectType?: unknown } | undefined;
  const user = nonEmptyText(context.user);
  const timestampMs = eventTimeMs(envelope.timestamp);
  return {
    timestampMs,
    date: utcDate(timestampMs),
    eventId: envelope.eventId,
    correlationId: nonEmptyText(envelope.correlationId),
    eventType: envelope.type,
    user,
    ...parseUserIdentity(user),
    appId: nonEmptyText(context.appId),
    appName: nonEmptyText(context.appName),
    sheetId: nonEmptyText(context.sheetId) ?? nonEmptyText(extras.sheetId),
    sheetName: nonEmptyText(context.sheetName),
    objectId: nonEmptyText(event.objectId),
    objectType:
      nonEmptyText(event.objectType) ?? nonEmptyText(event.vizType) ?? nonEmptyText(objectData?.objectType),
    selectionTxnId: nonEmptyText(event.selectionTxnId),
    durationMs: duration(event.duration),
    visible: typeof event.visible === 'boolean' ? event.visible : null,
    enteredAt: text(event.enteredAt),
    leftAt: text(event.leftAt),
    enterSelectionTxnId: nonEmptyText(event.enterSelectionTxnId),
    leaveSelectionTxnId: nonEmptyText(event.leaveSelectionTxnId),
    dataStateId: integerOrDigits(event.dataStateId) ?? safeInteger(extras.dataStateId),
    selectionDetails: extras.selectionDetails ? JSON.stringify(extras.selectionDetails) : null,
    screenshotUrl: nonEmptyText(event.screenshotUrl),
    screenshotSavedPaths: extras.screenshot ? JSON.stringify(extras.screenshot.savedPaths) : null,
    objectData: jsonText(event.objectData),
    envelope: options.withEnvelope ? JSON.stringify(envelope) : null,
  };
}
