/**
 * A Grafana InfluxQL query as Grafana sends it to InfluxDB, so that tests can run the queries
 * of docs/grafana/dashboards/ against a real influxd. Grafana does it in two steps, and so
 * does this file:
 *
 * 1. the browser interpolates dashboard variables into the raw query text, with the `regex`
 *    format unless the query names another (`${var:csv}`): values are regex-escaped, several
 *    values become `(a|b)`, "All" becomes the variable's custom all value as it is, or else
 *    every option (Grafana's InfluxDB data source, applyTemplateVariables; the scenes
 *    interpolator and its format registry);
 * 2. the server replaces the InfluxQL macros: `$timeFilter` by
 *    `time >= <from>ms and time <= <to>ms`, `$interval` and `$__interval` by the panel's
 *    interval as Go's gtime.FormatInterval writes it, `$__interval_ms` by its milliseconds
 *    (Grafana's pkg/tsdb/influxdb/models/query.go, Build).
 *
 * Variable queries go through the same two steps. A format this file does not know fails the
 * expansion, so a dashboard cannot use one the tests do not check.
 */

/** Grafana's value of a variable set to "All". */
export const ALL = '$__all';

export interface VariableState {
  name: string;
  /** The selected values, or ALL. */
  current: string[] | typeof ALL;
  /** What the variable offers (its query's answer, or its custom values). */
  options: string[];
  /** A multi-value variable hands an array to the format, a single-value one a string. */
  multi: boolean;
  /** Used for ALL instead of every option, as it is (Grafana does not format it). */
  allValue?: string | null;
}

export interface QueryContext {
  variables: ReadonlyMap<string, VariableState>;
  fromMs: number;
  toMs: number;
  /** The panel's interval: Grafana's range / max data points, rounded, at least the panel's min interval. */
  intervalMs: number;
}

/** `$var`, `[[var]]`, `[[var:format]]`, `${var}`, `${var.field}`, `${var:format}`: Grafana's variable syntax. */
const VARIABLE_REFERENCE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

/** Names the InfluxDB data source leaves for its server side to fill in. */
export const INFLUXQL_MACROS: ReadonlySet<string> = new Set([
  'timeFilter',
  'interval',
  '__interval',
  '__interval_ms',
]);

/** Grafana's escapeRegex (@grafana/data, text/string.ts). */
function escapeRegex(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

type Formatter = (value: string | string[]) => string;

const asList = (value: string | string[]) => (Array.isArray(value) ? value : [value]);

/** The formats of Grafana's format registry that these dashboards may use. */
const FORMATS: Record<string, Formatter> = {
  regex: (value) => {
    const escaped = asList(value).map(escapeRegex);
    return escaped.length === 1 ? escaped[0] : `(${escaped.join('|')})`;
  },
  raw: (value) => asList(value).join(','),
  csv: (value) => asList(value).join(','),
  pipe: (value) => asList(value).join('|'),
  singlequote: (value) =>
    asList(value)
      .map((item) => `'${item.replace(/'/g, "\\'")}'`)
      .join(','),
  doublequote: (value) =>
    asList(value)
      .map((item) => `"${item.replace(/"/g, '\\"')}"`)
      .join(','),
};

/** Every variable name a text refers to, in order, macros included. */
export function variableReferences(text: string): string[] {
  return [...text.matchAll(VARIABLE_REFERENCE)].map((match) => match[1] ?? match[2] ?? match[4]);
}

/** Step 1: dashboard variables into the text; names that are no variable (the macros) stay. */
export function interpolateVariables(
  text: string,
  variables: ReadonlyMap<string, VariableState>,
  defaultFormat = 'regex',
): string {
  return text.replace(
    VARIABLE_REFERENCE,
    (
      match,
      name1?: string,
      name2?: string,
      format2?: string,
      name3?: string,
      _path?: string,
      format3?: string,
    ) => {
      const variable = variables.get((name1 ?? name2 ?? name3) as string);
      if (!variable) return match;
      if (variable.current === ALL && variable.allValue) return variable.allValue;
      const values = variable.current === ALL ? variable.options : variable.current;
      const formatName = format2 ?? format3 ?? defaultFormat;
      const format = FORMATS[formatName];
      if (!format) throw new Error(`variable format '${formatName}' in ${match} is not emulated here`);
      return format(variable.multi ? values : values[0]);
    },
  );
}

/** Go's gtime.FormatInterval: the largest whole unit (d, h, m, s, ms). */
export function formatInterval(intervalMs: number): string {
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ];
  for (const [unit, size] of units) {
    if (intervalMs >= size) return `${Math.floor(intervalMs / size)}${unit}`;
  }
  return '1ms';
}

/** Step 2: the macros Grafana's server fills in, in the order it does. */
export function applyInfluxQlMacros(query: string, context: Omit<QueryContext, 'variables'>): string {
  const timeFilter = `time >= ${context.fromMs}ms and time <= ${context.toMs}ms`;
  const interval = formatInterval(context.intervalMs);
  return query
    .replaceAll('$timeFilter', () => timeFilter)
    .replaceAll('$interval', () => interval)
    .replaceAll('$__interval_ms', () => String(context.intervalMs))
    .replaceAll('$__interval', () => interval);
}

/** A raw InfluxQL query of a panel or a variable, as InfluxDB receives it from Grafana. */
export function expandInfluxQuery(query: string, context: QueryContext): string {
  return applyInfluxQlMacros(interpolateVariables(query, context.variables), context);
}

/** A Grafana duration such as `5m` in ms (a panel's min interval). */
export function durationMs(text: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(text);
  if (!match) throw new Error(`not a Grafana interval: '${text}'`);
  const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
  return Number(match[1]) * unitMs[match[2]];
}
