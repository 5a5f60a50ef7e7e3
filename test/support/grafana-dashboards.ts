/**
 * The Grafana files of docs/grafana/ as tests read them: the dashboards (classic JSON model),
 * their panels with rows unfolded, their variables, every datasource reference, and the
 * provisioning files.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { load } from 'js-yaml';
import { REPO_ROOT } from './module-process.js';

export const GRAFANA_DIR = path.join(REPO_ROOT, 'docs', 'grafana');
export const DASHBOARDS_DIR = path.join(GRAFANA_DIR, 'dashboards');

export interface GridPos {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface DataSourceRef {
  type?: string;
  uid?: string;
}

export interface GrafanaTarget {
  refId: string;
  datasource?: DataSourceRef;
  query?: string;
  rawQuery?: boolean;
  resultFormat?: string;
  alias?: string;
}

export interface GrafanaTransformation {
  id: string;
  options: Record<string, unknown>;
}

export interface GrafanaPanel {
  id: number;
  type: string;
  title: string;
  gridPos: GridPos;
  datasource?: DataSourceRef;
  targets?: GrafanaTarget[];
  transformations?: GrafanaTransformation[];
  /** The panel's min interval, such as `5m`. */
  interval?: string;
  /** A row's panels when it is collapsed. */
  panels?: GrafanaPanel[];
}

export interface GrafanaVariable {
  name: string;
  type: string;
  label?: string;
  query?: string;
  definition?: string;
  datasource?: DataSourceRef;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string | null;
  current?: { text?: string | string[]; value?: string | string[] };
  refresh?: number;
  hide?: number;
}

export interface GrafanaDashboard {
  id?: number | null;
  uid: string;
  title: string;
  schemaVersion: number;
  panels: GrafanaPanel[];
  templating: { list: GrafanaVariable[] };
  time?: { from: string; to: string };
  [key: string]: unknown;
}

export interface DashboardFile {
  file: string;
  dashboard: GrafanaDashboard;
}

export function loadDashboards(): DashboardFile[] {
  return readdirSync(DASHBOARDS_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => ({
      file: name,
      dashboard: JSON.parse(readFileSync(path.join(DASHBOARDS_DIR, name), 'utf8')) as GrafanaDashboard,
    }));
}

/** Every panel, the panels of collapsed rows included, rows themselves included. */
export function allPanels(dashboard: GrafanaDashboard): GrafanaPanel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** Panels that query: every panel but rows and text panels. */
export function queryPanels(dashboard: GrafanaDashboard): GrafanaPanel[] {
  return allPanels(dashboard).filter((panel) => panel.type !== 'row' && panel.type !== 'text');
}

/** Every `datasource` value anywhere in the dashboard, with where it is. */
export function datasourceReferences(value: unknown, at = '$'): Array<{ at: string; ref: unknown }> {
  if (Array.isArray(value))
    return value.flatMap((item, index) => datasourceReferences(item, `${at}[${index}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) =>
    key === 'datasource' ? [{ at: `${at}.${key}`, ref: child }] : datasourceReferences(child, `${at}.${key}`),
  );
}

/** A provisioning YAML file of docs/grafana/provisioning/<kind>/. */
export function loadProvisioning(
  kind: 'datasources' | 'dashboards',
): Array<{ file: string; config: unknown }> {
  const dir = path.join(GRAFANA_DIR, 'provisioning', kind);
  return readdirSync(dir)
    .filter((name) => name.endsWith('.yaml'))
    .sort()
    .map((name) => ({ file: name, config: load(readFileSync(path.join(dir, name), 'utf8')) }));
}
