/**
 * The columns a Grafana table panel shows for a query's answer, as Grafana's transformations
 * make them: the query's columns (`time` as `Time`), then `groupBy` (the fields grouped by, and
 * `<field> (<aggregation>)` for each aggregation), then `organize` (excluded, renamed). A
 * transformation naming a column that is not there is an error, as it shows nothing in Grafana.
 */
import type { GrafanaPanel } from './grafana-dashboards.js';

interface GroupByField {
  operation: 'groupby' | 'aggregate';
  aggregations: string[];
}

function requirePresent(columns: string[], names: string[], what: string): void {
  const missing = names.filter((name) => !columns.includes(name));
  if (missing.length > 0)
    throw new Error(`${what} names ${missing.join(', ')}, not among ${columns.join(', ')}`);
}

export function tableColumns(panel: GrafanaPanel, queryColumns: string[]): string[] {
  let columns = queryColumns.map((column) => (column === 'time' ? 'Time' : column));
  for (const { id, options } of panel.transformations ?? []) {
    if (id === 'groupBy') {
      const fields = options.fields as Record<string, GroupByField>;
      requirePresent(columns, Object.keys(fields), `${panel.title}: groupBy`);
      columns = Object.entries(fields).flatMap(([name, { operation, aggregations }]) =>
        operation === 'groupby' ? [name] : aggregations.map((aggregation) => `${name} (${aggregation})`),
      );
    } else if (id === 'organize') {
      const exclude = options.excludeByName as Record<string, boolean>;
      const rename = options.renameByName as Record<string, string>;
      requirePresent(columns, Object.keys(rename), `${panel.title}: organize`);
      columns = columns.filter((name) => !exclude[name]).map((name) => rename[name] ?? name);
    } else {
      throw new Error(`${panel.title}: transformation ${id} is not emulated here`);
    }
  }
  return columns;
}
