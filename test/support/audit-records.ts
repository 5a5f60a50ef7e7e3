/** Realistic AuditRecords for destination tests: an object.view.duration unless overridden. */
import { utcDate } from '../../src/lib/audit-events/event-time.js';
import type { AuditRecord } from '../../src/lib/audit-events/types.js';

const DEFAULT_TIMESTAMP_MS = Date.parse('2026-10-14T08:15:42.512Z');
const VIEW_DURATION_MS = 30608;

/**
 * A record as toAuditRecord() builds it for an object.view.duration event, with a fresh
 * eventId. `date` follows `timestampMs` unless it is overridden itself.
 */
export function makeAuditRecord(overrides: Partial<AuditRecord> = {}): AuditRecord {
  const timestampMs = overrides.timestampMs ?? DEFAULT_TIMESTAMP_MS;
  const leftAt = new Date(timestampMs).toISOString();
  const enteredAt = new Date(timestampMs - VIEW_DURATION_MS).toISOString();
  return {
    timestampMs,
    date: utcDate(timestampMs),
    eventId: crypto.randomUUID(),
    correlationId: '8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77',
    eventType: 'object.view.duration',
    user: 'UserDirectory=CORP; UserId=anna.lindqvist',
    userDirectory: 'CORP',
    userId: 'anna.lindqvist',
    appId: '6f0c3a9e-2b1d-4c8f-9e7a-1d2b3c4d5e6f',
    appName: 'Sales Performance 2026',
    sheetId: 'b7e2d9f4-3c1a-4e8b-a6d5-9f0e1c2b3a4d',
    sheetName: 'Regional overview',
    objectId: 'JpXkTr',
    objectType: 'barchart',
    selectionTxnId: '8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77',
    durationMs: VIEW_DURATION_MS,
    visible: false,
    enteredAt,
    leftAt,
    enterSelectionTxnId: '1a2b3c4d-0000-4000-8000-00000000a001',
    leaveSelectionTxnId: '8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77',
    dataStateId: 1792915011904,
    selectionDetails: null,
    screenshotUrl: null,
    screenshotSavedPaths: null,
    objectData: null,
    envelope: null,
    ...overrides,
  };
}
