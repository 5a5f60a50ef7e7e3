/**
 * Random and hostile audit API requests, made from the realistic envelopes of test/fixtures
 * (one per event type) by mutating their fields, so that many cases are still valid events.
 * A case is plain data (fixture, mutations, wire options): fast-check prints and shrinks it,
 * and renderWireCase() turns it into the exact bytes and headers to post.
 */
import fc from 'fast-check';
import { fixtureTypes, loadFixture } from './fixtures.js';
import {
  anyText,
  deepJson,
  edgeNumber,
  extensionVersionText,
  hostileJson,
  hostileText,
  jsonKey,
  dateTimeString,
  prefixed,
  screenshotUrlText,
  textUpTo,
  userText,
  uuidText,
  wrongTypeValue,
} from './hostile-arbitraries.js';
import {
  cloneDraft,
  defineOwn,
  FreshEventId,
  isDraftObject,
  RawNumber,
  RepeatedText,
  renderBody,
  type ByteTweak,
  type JsonDraft,
  type WireStyle,
} from './json-wire.js';

/** Set (or create) the value at `path`, or delete it; a path through a non-object is skipped. */
export type Mutation = { op: 'set'; path: string[]; value: JsonDraft } | { op: 'delete'; path: string[] };

export interface AuditWireCase {
  /** The fixture the case starts from (test/fixtures/<fixture>.json). */
  fixture: string;
  mutations: Mutation[];
  style: WireStyle;
  tweak: ByteTweak;
  contentType: string;
  /** X-Audit-QS-Version, when sent. */
  versionHeader?: string;
}

export interface RenderedRequest {
  contentType: string;
  headers: Record<string, string>;
  body: Buffer;
}

const CONTEXT = ['payload', 'context'];
const EVENT = ['payload', 'event'];

export const set = (path: string[], value: JsonDraft): Mutation => ({ op: 'set', path, value });

/** A fixture as a draft: numbers keep their spelling, the eventId becomes a fresh one. */
function fixtureDraft(type: string): Record<string, JsonDraft> {
  const toDraft = (value: unknown): JsonDraft => {
    if (typeof value === 'number') return new RawNumber(JSON.stringify(value));
    if (Array.isArray(value)) return value.map(toDraft);
    if (typeof value === 'object' && value !== null) {
      const result: Record<string, JsonDraft> = {};
      for (const [key, item] of Object.entries(value)) defineOwn(result, key, toDraft(item));
      return result;
    }
    return value as JsonDraft;
  };
  const draft = toDraft(loadFixture(type)) as Record<string, JsonDraft>;
  draft.eventId = new FreshEventId('lower');
  return draft;
}

function applyMutation(root: Record<string, JsonDraft>, mutation: Mutation): void {
  let parent: JsonDraft = root;
  for (const key of mutation.path.slice(0, -1)) {
    if (!isDraftObject(parent) || !Object.hasOwn(parent, key)) return;
    parent = parent[key];
  }
  if (!isDraftObject(parent)) return;
  const last = mutation.path[mutation.path.length - 1];
  if (mutation.op === 'delete') delete parent[last];
  else defineOwn(parent, last, cloneDraft(mutation.value));
}

/** The exact request of a case, with `eventId` where the envelope's fresh eventId goes. */
export function renderWireCase(wireCase: AuditWireCase, eventId: string): RenderedRequest {
  const draft = fixtureDraft(wireCase.fixture);
  for (const mutation of wireCase.mutations) applyMutation(draft, mutation);
  const headers: Record<string, string> = { 'content-type': wireCase.contentType };
  if (wireCase.versionHeader !== undefined) headers['x-audit-qs-version'] = wireCase.versionHeader;
  return {
    contentType: wireCase.contentType,
    headers,
    body: renderBody(draft, wireCase.style, wireCase.tweak, eventId),
  };
}

/** A case posted plainly (compact JSON, application/json): for hand-written examples. */
export function plainWireCase(fixture: string, mutations: Mutation[]): AuditWireCase {
  return {
    fixture,
    mutations,
    style: { escape: 'plain', whitespace: 'compact' },
    tweak: { kind: 'none' },
    contentType: 'application/json',
    versionHeader: undefined,
  };
}

// ---------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------

const CONTEXT_LIMITS: Record<string, number> = {
  appName: 512,
  sheetName: 512,
  sheetId: 128,
  userAgent: 1024,
};

const contextText = fc
  .constantFrom(...Object.keys(CONTEXT_LIMITS))
  .chain((key) => textUpTo(CONTEXT_LIMITS[key]).map((value) => set([...CONTEXT, key], value)));

const contextUser = fc.oneof(userText, textUpTo(256)).map((value) => set([...CONTEXT, 'user'], value));

const contextAppId = uuidText.map((value) => set([...CONTEXT, 'appId'], value));

const EVENT_TEXT: Record<string, fc.Arbitrary<JsonDraft>> = {
  objectId: textUpTo(128),
  objectType: anyText,
  vizType: textUpTo(64),
  title: anyText,
  trigger: hostileText(),
  selectionTxnId: fc.oneof(uuidText, textUpTo(64)),
  enterSelectionTxnId: fc.oneof(uuidText, textUpTo(64)),
  leaveSelectionTxnId: fc.oneof(uuidText, textUpTo(64)),
  enteredAt: dateTimeString,
  leftAt: dateTimeString,
  screenshotUrl: screenshotUrlText,
};

const eventText = fc
  .constantFrom(...Object.keys(EVENT_TEXT))
  .chain((key) => EVENT_TEXT[key].map((value) => set([...EVENT, key], value)));

const eventNumber = fc
  .tuple(fc.constantFrom('duration', 'duration', 'dataStateId', 'loadTimeMs'), edgeNumber)
  .map(([key, value]) => set([...EVENT, key], value));

const eventFlag = fc
  .tuple(fc.constantFrom('visible', 'captureScheduled'), fc.oneof(fc.boolean(), wrongTypeValue))
  .map(([key, value]) => set([...EVENT, key], value));

/** objectData as the extension sends it (with a hostile objectType), any JSON, or a plain string, often long. */
const objectData = fc
  .oneof(
    {
      weight: 2,
      arbitrary: fc.tuple(anyText, hostileJson, anyText).map(([objectType, extra, values]): JsonDraft => ({
        schemaVersion: new RawNumber('1'),
        objectType,
        extra,
        values,
      })),
    },
    { weight: 2, arbitrary: hostileJson },
    { weight: 1, arbitrary: anyText },
  )
  .map((value) => set([...EVENT, 'objectData'], value));

const detailItem: fc.Arbitrary<JsonDraft> = fc.oneof(
  fc
    .record({ qField: hostileText(), qSelectedCount: edgeNumber, qSelected: anyText, qLocked: fc.boolean() })
    .map((item) => item as JsonDraft),
  hostileJson,
);

const details = fc
  .oneof(
    { weight: 5, arbitrary: fc.array(detailItem, { maxLength: 4 }) },
    {
      weight: 1,
      arbitrary: fc.tuple(detailItem, fc.constantFrom(499, 500, 501)).map(([item, n]) => Array(n).fill(item)),
    },
  )
  .map((value) => set([...EVENT, 'details'], value));

const crop = fc
  .tuple(
    fc.constantFrom('top', 'left', 'width', 'height', 'scrollTop', 'renderingOverflow'),
    fc.oneof(edgeNumber, wrongTypeValue),
    fc.boolean(),
  )
  .map(([key, value, remove]) =>
    remove ? { op: 'delete' as const, path: [...EVENT, 'crop', key] } : set([...EVENT, 'crop', key], value),
  );

const timestamp = dateTimeString.map((value) => set(['timestamp'], value));

/** Types without a per-type schema (any payload passes), open `event.*` types, unknown ones. */
const eventType = fc
  .oneof(
    fc.constantFrom(
      'event.bookmark',
      'audit.event',
      'selection.transaction.finalized',
      'navigation.sheet.loaded',
    ),
    anyText.map((suffix) => prefixed('event.', suffix)),
    fc.constantFrom('event.', 'Event.bookmark', 'unknown', '', 'event.\nx', 'event. ', 'event.\\'),
  )
  .map((value) => set(['type'], value as JsonDraft));

const correlationId = fc.oneof(textUpTo(64), fc.constant('')).map((value) => set(['correlationId'], value));

const source = fc.oneof(
  extensionVersionText.map((value) => set(['source', 'version'], value)),
  fc.tuple(fc.constantFrom('kind', 'name'), hostileText()).map(([key, value]) => set(['source', key], value)),
);

const schemaVersion = fc.oneof(edgeNumber, wrongTypeValue).map((value) => set(['schemaVersion'], value));

const eventId = fc
  .oneof(
    fc.constantFrom<JsonDraft>(new FreshEventId('upper'), new FreshEventId('urn')),
    uuidText.filter((value) => !/^(urn:uuid:)?[0-9a-f-]{36}$/i.test(value)),
    hostileText(),
  )
  .map((value) => set(['eventId'], value));

/** Every field the module knows, for wrong types and deletions. */
const KNOWN_PATHS: string[][] = [
  ['schemaVersion'],
  ['eventId'],
  ['correlationId'],
  ['timestamp'],
  ['type'],
  ['source'],
  ['source', 'version'],
  ['payload'],
  CONTEXT,
  EVENT,
  ...['appId', 'appName', 'sheetName', 'sheetId', 'user', 'userAgent'].map((key) => [...CONTEXT, key]),
  ...[
    'objectId',
    'objectType',
    'duration',
    'leftAt',
    'enteredAt',
    'visible',
    'selectionTxnId',
    'enterSelectionTxnId',
    'details',
    'dataStateId',
    'captureScheduled',
    'screenshotUrl',
    'crop',
    'vizType',
    'objectData',
  ].map((key) => [...EVENT, key]),
];

const wrongType = fc
  .tuple(fc.constantFrom(...KNOWN_PATHS), wrongTypeValue)
  .map(([path, value]) => set(path, value));

const deletion = fc.constantFrom(...KNOWN_PATHS).map((path): Mutation => ({ op: 'delete', path }));

/** Objects unknown properties can be added to. */
const CONTAINERS: string[][] = [
  [],
  ['payload'],
  CONTEXT,
  EVENT,
  ['source'],
  [...EVENT, 'objectData'],
  [...EVENT, 'crop'],
];

/** Unknown properties; a hostile key may also hit a known field, which the oracle then judges. */
const extraProperty = fc
  .tuple(fc.constantFrom(...CONTAINERS), jsonKey, hostileJson)
  .map(([path, key, value]) => set([...path, key], value));

const nearMissKey = fc
  .tuple(
    fc.constantFrom(...CONTAINERS),
    fc.constantFrom('constructor', 'prototype', 'toString', '__proto__x'),
    hostileJson,
  )
  .map(([path, key, value]) => set([...path, key], value));

const forbiddenKey = fc
  .tuple(fc.constantFrom(...CONTAINERS), fc.boolean(), hostileJson)
  .map(([path, proto, value]) =>
    proto
      ? set([...path, '__proto__'], { polluted: value })
      : set([...path, 'constructor'], { prototype: { polluted: value } }),
  );

const deepNesting = fc
  .tuple(
    fc.constantFrom<string[]>(
      [...EVENT, 'objectData'],
      [...EVENT, 'x-deep'],
      [...CONTEXT, 'x-deep'],
      ['x-deep'],
    ),
    deepJson,
  )
  .map(([path, value]) => set(path, value));

/** A body over the 1 MiB default bodyLimitBytes. */
const oversized = fc
  .integer({ min: 1_048_577, max: 1_100_000 })
  .map((length) => set(['x-padding'], new RepeatedText('x', length)));

const mutationArbitrary: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: contextText },
  { weight: 3, arbitrary: contextUser },
  { weight: 1, arbitrary: contextAppId },
  { weight: 6, arbitrary: eventText },
  { weight: 3, arbitrary: eventNumber },
  { weight: 1, arbitrary: eventFlag },
  { weight: 4, arbitrary: objectData },
  { weight: 1, arbitrary: details },
  { weight: 1, arbitrary: crop },
  { weight: 3, arbitrary: timestamp },
  { weight: 2, arbitrary: eventType },
  { weight: 1, arbitrary: correlationId },
  { weight: 1, arbitrary: source },
  { weight: 1, arbitrary: schemaVersion },
  { weight: 1, arbitrary: eventId },
  { weight: 2, arbitrary: wrongType },
  { weight: 1, arbitrary: deletion },
  { weight: 2, arbitrary: extraProperty },
  { weight: 1, arbitrary: nearMissKey },
  { weight: 1, arbitrary: forbiddenKey },
  { weight: 1, arbitrary: deepNesting },
  {
    weight: 1,
    arbitrary: fc.oneof({ weight: 4, arbitrary: objectData }, { weight: 1, arbitrary: oversized }),
  },
);

// ---------------------------------------------------------------------------------------
// Wire options
// ---------------------------------------------------------------------------------------

const wireStyle: fc.Arbitrary<WireStyle> = fc.record({
  escape: fc.oneof(
    { weight: 6, arbitrary: fc.constant('plain' as const) },
    { weight: 1, arbitrary: fc.constantFrom('non-ascii' as const, 'all' as const) },
  ),
  whitespace: fc.oneof(
    { weight: 4, arbitrary: fc.constant('compact' as const) },
    { weight: 1, arbitrary: fc.constant('spread' as const) },
  ),
});

const NOT_UTF8 = [[0xff], [0xfe], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80]];

const byteTweak: fc.Arbitrary<ByteTweak> = fc.oneof(
  { weight: 24, arbitrary: fc.constant<ByteTweak>({ kind: 'none' }) },
  { weight: 1, arbitrary: fc.constant<ByteTweak>({ kind: 'bom' }) },
  {
    weight: 1,
    arbitrary: fc
      .double({ min: 0, max: 0.999, noNaN: true })
      .map((fraction): ByteTweak => ({ kind: 'cut', fraction })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.constantFrom(...NOT_UTF8))
      .map(([fraction, bytes]): ByteTweak => ({ kind: 'not-utf8', fraction, bytes })),
  },
);

const contentType = fc.oneof(
  { weight: 24, arbitrary: fc.constant('application/json') },
  {
    weight: 2,
    arbitrary: fc.constantFrom('application/json; charset=utf-8', 'Application/JSON'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('text/plain', 'application/jsonx', 'application/x-www-form-urlencoded'),
  },
);

export const auditWireCaseArbitrary: fc.Arbitrary<AuditWireCase> = fc.record({
  fixture: fc.constantFrom(...fixtureTypes()),
  mutations: fc.array(mutationArbitrary, { maxLength: 3 }),
  style: wireStyle,
  tweak: byteTweak,
  contentType,
  versionHeader: fc.oneof(
    { weight: 19, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: extensionVersionText },
  ),
});
