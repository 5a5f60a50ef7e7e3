/**
 * Storing lines in influxd: keeping the good lines of a refused batch and finding which lines
 * failed, checking syntax without storing anything, and creating databases.
 */
import { quoteIdentifier, type InfluxdServer, type WriteOutcome } from '../influxd.js';
import { joinLines, runsOfSamePrecision, type LineFailure, type PreparedLine } from './line-protocol.js';
import type { EmulatorState } from './state.js';

/** A retention policy that never exists: influxd parses the body, then fails on the RP, storing nothing. */
const PARSE_CHECK_RP = 'emulator-parse-check-no-such-rp';

/**
 * Writes the lines, keeping the good ones when some fail (influxd's own behaviour), and finds
 * which failed: after a refused batch each timestamped line is sent again alone, in order, which
 * is idempotent for stored lines (same series and time overwrite the same values) and fails
 * again for refused ones. A line without timestamp would be stored twice, so it is only
 * parse-checked.
 */
export async function storeKeepingGoodLines(
  influxd: InfluxdServer,
  db: string,
  lines: PreparedLine[],
): Promise<LineFailure[]> {
  const failures: LineFailure[] = [];
  for (const run of runsOfSamePrecision(lines)) {
    const outcome = await influxd.write(db, joinLines(run), run[0].precision);
    if (outcome.status === 204) continue;
    if (outcome.status !== 400) throw unexpectedInfluxdAnswer(outcome);
    const recheck = (line: PreparedLine) =>
      line.hasTimestamp ? writeAloneError(influxd, db, line) : parseError(influxd, db, line);
    failures.push(...(await collectFailures(run, recheck)));
  }
  return failures;
}

/** Below this many lines, checking each line alone is cheaper than a scratch database. */
const SCRATCH_CHECK_MIN_LINES = 32;
/** Parse checks store nothing, so they can run side by side. */
const PARALLEL_PARSE_CHECKS = 8;

/**
 * Syntax errors of the lines, storing nothing in `db` (undefined: a database not created yet).
 * A big batch first goes whole to a fresh scratch database (one request); only if influxd
 * refuses something there, or the batch is small, is each line checked alone, in `db` or, when
 * it does not exist yet, in the scratch database.
 */
export async function findParseErrors(
  state: EmulatorState,
  db: string | undefined,
  lines: PreparedLine[],
): Promise<LineFailure[]> {
  const checkEach = (target: string) =>
    collectFailures(lines, (line) => parseError(state.influxd, target, line), PARALLEL_PARSE_CHECKS);
  if (db !== undefined && lines.length < SCRATCH_CHECK_MIN_LINES) return checkEach(db);
  return inScratchDatabase(state, async (scratch) => {
    if (lines.length >= SCRATCH_CHECK_MIN_LINES && (await allLinesStore(state.influxd, scratch, lines)))
      return [];
    return checkEach(db ?? scratch);
  });
}

/** Runs `check` on the lines, `concurrency` at a time; the lines it names an error for, in order. */
async function collectFailures(
  lines: PreparedLine[],
  check: (line: PreparedLine) => Promise<string | undefined>,
  concurrency = 1,
): Promise<LineFailure[]> {
  const messages: (string | undefined)[] = [];
  for (let index = 0; index < lines.length; index += concurrency) {
    messages.push(...(await Promise.all(lines.slice(index, index + concurrency).map(check))));
  }
  return lines.flatMap((line, index) => {
    const message = messages[index];
    return message === undefined ? [] : [{ line, message }];
  });
}

/** Runs `use` with a fresh database, dropped afterwards, so that the check leaves no trace. */
async function inScratchDatabase<T>(state: EmulatorState, use: (scratch: string) => Promise<T>): Promise<T> {
  state.scratchCounter += 1;
  const scratch = `_emulator_scratch_${state.port}_${state.scratchCounter}`;
  await state.influxd.ddl(createDatabaseStatement(scratch));
  try {
    return await use(scratch);
  } finally {
    await state.influxd.ddl(`DROP DATABASE ${quoteIdentifier(scratch)}`);
  }
}

async function allLinesStore(influxd: InfluxdServer, db: string, lines: PreparedLine[]): Promise<boolean> {
  for (const run of runsOfSamePrecision(lines)) {
    const outcome = await influxd.write(db, joinLines(run), run[0].precision);
    if (outcome.status !== 204) return false;
  }
  return true;
}

async function writeAloneError(
  influxd: InfluxdServer,
  db: string,
  line: PreparedLine,
): Promise<string | undefined> {
  const outcome = await influxd.write(db, line.text, line.precision);
  if (outcome.status === 204) return undefined;
  if (outcome.status === 400) return outcome.error;
  throw unexpectedInfluxdAnswer(outcome);
}

/** The database must exist: influxd checks it before parsing. */
async function parseError(
  influxd: InfluxdServer,
  db: string,
  line: PreparedLine,
): Promise<string | undefined> {
  const outcome = await influxd.write(db, line.text, line.precision, { rp: PARSE_CHECK_RP });
  if (outcome.status === 400) return outcome.error;
  if (outcome.status === 500 && outcome.error?.includes('retention policy not found')) return undefined;
  throw unexpectedInfluxdAnswer(outcome);
}

function unexpectedInfluxdAnswer(outcome: WriteOutcome): Error {
  return new Error(`influxd answered ${outcome.status}: ${outcome.error ?? ''}`);
}

/** `dropped=N` of an influxd partial-write error (`tsdb.PartialWriteError`). */
export function droppedPoints(error: string | undefined): number {
  return Number(/dropped=(\d+)/.exec(error ?? '')?.[1] ?? 0);
}

/** `CREATE DATABASE` whose default retention policy keeps data `durationSeconds` (INF when 0 or unset). */
export function createDatabaseStatement(name: string, durationSeconds?: number): string {
  const duration = durationSeconds ? ` WITH DURATION ${durationSeconds}s` : '';
  return `CREATE DATABASE ${quoteIdentifier(name)}${duration}`;
}
