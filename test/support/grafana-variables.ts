/**
 * A dashboard's variables as Grafana resolves them on load: in the order they are defined,
 * each query variable's query expanded with the variables before it, run, and its answer made
 * into options the way Grafana's InfluxDB data source reads it (SHOW TAG VALUES: the `value`
 * column; SELECT DISTINCT: the `distinct` column). Tests then set each variable to one value,
 * two values (multi-value ones) or All.
 */
import type { GrafanaDashboard, GrafanaVariable } from './grafana-dashboards.js';
import { ALL, expandInfluxQuery, type VariableState } from './grafana-query-expansion.js';
import type { Row } from './influxd.js';

/** How a test sets the variables: the first option, the first two (multi-value ones), or All. */
export type Selection = 'one value' | 'two values' | 'All';
export const SELECTIONS: readonly Selection[] = ['one value', 'two values', 'All'];

export interface ResolvedVariables {
  variables: Map<string, VariableState>;
  /** Every variable query as sent, with the options it gave. */
  queries: Array<{ name: string; query: string; options: string[] }>;
}

export interface ResolveOptions {
  /** Runs one InfluxQL statement against the dashboard's data source. */
  runQuery: (query: string) => Promise<Row[]>;
  fromMs: number;
  toMs: number;
  intervalMs: number;
}

function selectValues(
  variable: GrafanaVariable,
  options: string[],
  selection: Selection,
): string[] | typeof ALL {
  if (selection === 'All' && variable.includeAll) return ALL;
  if (selection === 'two values' && variable.multi) return options.slice(0, 2);
  return options.slice(0, 1);
}

function optionsFrom(rows: Row[], query: string): string[] {
  const column = query.startsWith('SHOW TAG VALUES') ? 'value' : 'distinct';
  return [...new Set(rows.map((row) => String(row[column])))];
}

export async function resolveVariables(
  dashboard: GrafanaDashboard,
  selection: Selection,
  { runQuery, ...context }: ResolveOptions,
): Promise<ResolvedVariables> {
  const variables = new Map<string, VariableState>();
  const queries: ResolvedVariables['queries'] = [];
  for (const variable of dashboard.templating.list) {
    const base = { name: variable.name, multi: variable.multi ?? false, allValue: variable.allValue };
    if (variable.type === 'datasource') continue; // only in datasource references, never in a query
    if (variable.type === 'constant') {
      const value = variable.query ?? '';
      variables.set(variable.name, { ...base, current: [value], options: [value] });
      continue;
    }
    if (variable.type !== 'query') throw new Error(`variable type ${variable.type} is not emulated here`);
    const query = expandInfluxQuery(variable.query ?? '', { variables, ...context });
    const options = optionsFrom(await runQuery(query), variable.query ?? '');
    queries.push({ name: variable.name, query, options });
    variables.set(variable.name, { ...base, current: selectValues(variable, options, selection), options });
  }
  return { variables, queries };
}

/** The values a variable is set to, or undefined when it lets every value through (All). */
export function selectedValues(resolved: ResolvedVariables, name: string): string[] | undefined {
  const current = resolved.variables.get(name)?.current;
  return current === undefined || current === ALL ? undefined : current;
}
