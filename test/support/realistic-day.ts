/**
 * A realistic day of Audit.qs events, as envelopes to post to the module: five users in two
 * directories, three apps with their sheets and objects, fifteen sessions spread over the last
 * 23 hours. Each session loads sheets, makes selections (with their details), looks at every
 * object on a sheet for a while, takes a screenshot, hides an object, and meets a visualization
 * the extension cannot capture. Everything is derived from `now` and the session number, so a
 * day built twice at one `now` is the same day, and the ids are stable across runs.
 *
 * Session 0 is the session of test/fixtures (Anna in Sales Performance 2026, correlation
 * FIXTURE_CORRELATION_ID), so that docs can name a session that exists.
 */
import { createHash } from 'node:crypto';
import type { AuditEnvelope } from '../../src/lib/audit-events/types.js';

export interface DayUser {
  directory: string;
  id: string;
}

export interface DayObject {
  id: string;
  type: string;
  title: string;
}

export interface DaySheet {
  id: string;
  name: string;
  objects: DayObject[];
}

export interface DayApp {
  id: string;
  name: string;
  sheets: DaySheet[];
  /** Fields a user selects in, each with the values there are. */
  fields: Array<{ name: string; values: string[] }>;
}

export interface DaySession {
  correlationId: string;
  user: DayUser;
  app: DayApp;
  /** Sheets opened, in order. */
  sheets: DaySheet[];
  startMs: number;
}

export interface RealisticDay {
  envelopes: AuditEnvelope[];
  sessions: DaySession[];
}

export const FIXTURE_CORRELATION_ID = '8e41c0d2-5b7f-4a3e-8d19-2c6f4b9a1e77';

export const DAY_USERS: readonly DayUser[] = [
  { directory: 'CORP', id: 'anna.lindqvist' },
  { directory: 'CORP', id: 'erik.holm' },
  { directory: 'CORP', id: 'maria.berg' },
  { directory: 'CORP', id: 'jonas.ek' },
  { directory: 'EXT', id: 'sara.nilsson' },
];

export const DAY_APPS: readonly DayApp[] = [
  {
    id: '6f0c3a9e-2b1d-4c8f-9e7a-1d2b3c4d5e6f',
    name: 'Sales Performance 2026',
    sheets: [
      {
        id: 'b7e2d9f4-3c1a-4e8b-a6d5-9f0e1c2b3a4d',
        name: 'Regional overview',
        objects: [
          { id: 'JpXkTr', type: 'barchart', title: 'Net sales by region' },
          { id: 'KtRwqa', type: 'kpi', title: 'Net sales' },
          { id: 'mQbPzd', type: 'boxplot', title: 'Order value spread' },
        ],
      },
      {
        id: 'c81f0a2e-7d4b-4f1a-9b3e-2a5c6d7e8f90',
        name: 'Customer detail',
        objects: [
          { id: 'hGfTqe', type: 'table', title: 'Top customers' },
          { id: 'PwLkZx', type: 'linechart', title: 'Sales trend' },
        ],
      },
    ],
    fields: [
      { name: 'Region', values: ['Nordics', 'Baltics', 'DACH', 'Benelux'] },
      { name: 'Year', values: ['2025', '2026'] },
      { name: 'Product group', values: ['Bikes', 'Helmets', 'Spare parts'] },
    ],
  },
  {
    id: '0a9b8c7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d',
    name: 'HR Headcount',
    sheets: [
      {
        id: 'd4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70',
        name: 'Headcount',
        objects: [
          { id: 'RtYuIo', type: 'combochart', title: 'Headcount by month' },
          { id: 'AsDfGh', type: 'pivot-table', title: 'Headcount by unit' },
        ],
      },
      {
        id: 'e5f6a7b8-c9d0-4e1f-9a2b-3c4d5e6f7081',
        name: 'Attrition',
        objects: [
          { id: 'ZxCvBn', type: 'kpi', title: 'Attrition rate' },
          { id: 'QwErTy', type: 'barchart', title: 'Leavers by reason' },
        ],
      },
    ],
    fields: [
      { name: 'Unit', values: ['Finance', 'Sales', 'Operations', 'IT'] },
      { name: 'Month', values: ['2026-07', '2026-08', '2026-09'] },
    ],
  },
  {
    id: '5c4d3e2f-1a0b-4c9d-8e7f-6a5b4c3d2e1f',
    name: 'Supply Chain Overview',
    sheets: [
      {
        id: 'f6a7b8c9-d0e1-4f2a-8b3c-4d5e6f708192',
        name: 'Inventory',
        objects: [
          { id: 'LkJhGf', type: 'map', title: 'Stock by warehouse' },
          { id: 'PoIuYt', type: 'table', title: 'Items below safety stock' },
          { id: 'MnBvCx', type: 'gauge', title: 'Fill rate' },
        ],
      },
    ],
    fields: [
      { name: 'Warehouse', values: ['Gothenburg', 'Tallinn', 'Hamburg'] },
      { name: 'Item category', values: ['Frames', 'Wheels', 'Electronics'] },
    ],
  },
];

const SESSIONS = 15;
const FIRST_SESSION_BEFORE_NOW_MS = 23 * 3600_000;
const SESSION_SPACING_MS = (22 * 3600_000) / SESSIONS;
const SOURCE = { kind: 'qlik-sense-extension', name: 'audit-qs', version: '0.4.1' };
const USER_AGENT =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36';

/** A stable UUID (version 4 layout) named by `name`: the same name gives the same id on every run. */
export function stableUuid(name: string): string {
  const hex = createHash('sha256').update(name).digest('hex');
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The two ways Audit.qs names a user, as the fixtures show: `DIR\id` on most events and
 * `UserDirectory=DIR; UserId=id` on object.view.duration. The module parses both into the
 * same userDirectory and userId.
 */
function userText(user: DayUser, type: string): string {
  return type === 'object.view.duration'
    ? `UserDirectory=${user.directory}; UserId=${user.id}`
    : `${user.directory}\\${user.id}`;
}

/** Builds one session's envelopes: `advance` moves its clock on, `add` stamps an event with it. */
class SessionWriter {
  readonly envelopes: AuditEnvelope[] = [];
  #timeMs: number;
  #count = 0;

  constructor(
    private readonly session: DaySession,
    private readonly index: number,
  ) {
    this.#timeMs = session.startMs;
  }

  /** Moves the clock on by `ms` and returns the new time. */
  advance(ms: number): number {
    this.#timeMs += ms;
    return this.#timeMs;
  }

  /** A number in [0, range) that varies with the session and the event: durations, picks. */
  vary(range: number, salt = 0): number {
    return (this.index * 7919 + this.#count * 104729 + salt * 1299709) % range;
  }

  add(type: string, sheet: DaySheet, event: Record<string, unknown>): AuditEnvelope {
    const { session } = this;
    this.#count += 1;
    const envelope: AuditEnvelope = {
      schemaVersion: 1,
      eventId: stableUuid(`session-${this.index}/event-${this.#count}`),
      correlationId: session.correlationId,
      timestamp: new Date(this.#timeMs).toISOString(),
      type,
      source: SOURCE,
      payload: {
        context: {
          appId: session.app.id,
          appName: session.app.name,
          user: userText(session.user, type),
          userAgent: USER_AGENT,
          sheetId: sheet.id,
          sheetName: sheet.name,
        },
        event,
      },
    };
    this.envelopes.push(envelope);
    return envelope;
  }
}

function selectionDetails(writer: SessionWriter, app: DayApp, selection: number) {
  return app.fields.slice(0, 1 + (selection % 2)).map((field, index) => {
    const count = 1 + writer.vary(Math.min(2, field.values.length), index);
    const start = writer.vary(field.values.length, index + 3);
    const selected = Array.from(
      { length: count },
      (_, offset) => field.values[(start + offset) % field.values.length],
    );
    return {
      qField: field.name,
      qSelectedCount: count,
      qSelected: selected.join(', '),
      qTotal: field.values.length,
      qStateName: '$',
      qLocked: false,
    };
  });
}

/** One sheet of a session: load, validate, select twice, look at every object, screenshot, hide one. */
function visitSheet(writer: SessionWriter, session: DaySession, sheet: DaySheet, visit: number): void {
  const { app } = session;
  const firstTxn =
    visit === 0 ? session.correlationId : stableUuid(`${session.correlationId}/txn-${visit}-0`);
  // Every event of a session has its own millisecond, so that time order is the order built.
  writer.advance(1000);
  writer.add('navigation.sheet.loaded', sheet, { loadTimeMs: 400 + writer.vary(1200) });
  const enteredAtMs = writer.advance(1500);
  writer.add('app.model.validated', sheet, {
    selectionTxnId: firstTxn,
    dataStateId: enteredAtMs,
    captureScheduled: true,
  });
  let txn = firstTxn;
  for (let selection = 0; selection < 2; selection += 1) {
    writer.advance(8000 + writer.vary(20000));
    txn =
      selection === 0 && visit === 0
        ? firstTxn
        : stableUuid(`${session.correlationId}/txn-${visit}-${selection + 1}`);
    writer.add('selection.state.changed', sheet, {
      selectionTxnId: txn,
      details: selectionDetails(writer, app, selection + visit),
    });
    const validatedMs = writer.advance(400);
    writer.add('app.model.validated', sheet, {
      selectionTxnId: txn,
      dataStateId: validatedMs,
      captureScheduled: true,
    });
  }
  const [shot, hidden] = sheet.objects;
  writer.advance(600);
  writer.add('screenshot.url.received', sheet, {
    objectId: shot.id,
    selectionTxnId: txn,
    dataStateId: enteredAtMs,
    screenshotUrl: `https://qliksense.corp.example/tempcontent/${app.id}/${shot.id}.png?serverNodeId=9d1f`,
    crop: { top: 112, left: 24, width: 640, height: 380, scrollTop: 0 },
    objectData: {
      schemaVersion: 1,
      objectType: shot.type,
      extractedAt: new Date(enteredAtMs).toISOString(),
      dimensions: [{ fieldName: app.fields[0].name, values: app.fields[0].values.slice(0, 2) }],
      measures: [{ label: shot.title, values: ['18250.40', '6120.75'] }],
    },
  });
  const unsupported = sheet.objects.find((object) => object.type === 'boxplot');
  if (unsupported) {
    writer.advance(300);
    writer.add('event.unsupported.visualization', sheet, {
      objectId: unsupported.id,
      vizType: unsupported.type,
      title: unsupported.title,
      trigger: 'selection',
      dataStateId: enteredAtMs,
      selectionTxnId: txn,
    });
  }
  writer.advance(5000 + writer.vary(30000));
  writer.add('object.visibility.changed', sheet, {
    objectId: hidden.id,
    duration: 2000 + writer.vary(9000) + 0.5,
    visible: false,
  });
  for (const object of sheet.objects) {
    const leftAtMs = writer.advance(2000 + writer.vary(45000));
    writer.add('object.view.duration', sheet, {
      type: 'view.duration',
      objectId: object.id,
      enteredAt: new Date(enteredAtMs).toISOString(),
      leftAt: new Date(leftAtMs).toISOString(),
      duration: leftAtMs - enteredAtMs,
      visible: false,
      selectionTxnId: txn,
      enterSelectionTxnId: firstTxn,
      leaveSelectionTxnId: txn,
      dataStateId: enteredAtMs,
    });
  }
}

/** The day's sessions and envelopes, the last session about an hour before `now`. */
export function realisticDay(now: number = Date.now()): RealisticDay {
  const sessions: DaySession[] = [];
  const envelopes: AuditEnvelope[] = [];
  for (let index = 0; index < SESSIONS; index += 1) {
    // Each user works in every app over the day, and every app has several users.
    const app = DAY_APPS[(index + 2 * Math.floor(index / DAY_USERS.length)) % DAY_APPS.length];
    const session: DaySession = {
      correlationId: index === 0 ? FIXTURE_CORRELATION_ID : stableUuid(`session-${index}`),
      user: DAY_USERS[index % DAY_USERS.length],
      app,
      sheets: index % 2 === 0 ? app.sheets : app.sheets.slice(0, 1),
      startMs: now - FIRST_SESSION_BEFORE_NOW_MS + Math.round(index * SESSION_SPACING_MS),
    };
    const writer = new SessionWriter(session, index);
    session.sheets.forEach((sheet, visit) => visitSheet(writer, session, sheet, visit));
    sessions.push(session);
    envelopes.push(...writer.envelopes);
  }
  return { envelopes, sessions };
}
