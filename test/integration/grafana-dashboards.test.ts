/**
 * The Grafana dashboards of docs/grafana/: each is what Grafana imports (checked on the JSON
 * model), and every panel query and every variable query runs against a real influxd holding
 * a realistic day that the module itself wrote, expanded as Grafana expands it (variables with
 * one value, two values and "All"; $timeFilter and $__interval for the last 24 hours), and
 * answers with rows. Grafana itself cannot run here; what it does is emulated in
 * test/support/: grafana-variables.ts (resolving the variables on load),
 * grafana-query-expansion.ts (variables and macros into a query), grafana-table-columns.ts
 * (the columns a table shows after its transformations).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { toAuditRecord } from '../../src/lib/audit-events/record.js';
import { createInfluxdbDestination } from '../../src/lib/audit-destinations/influxdb/buffer.js';
import { validConfig } from '../support/config.js';
import { createSilentLogger } from '../../src/lib/logger.js';
import { deliverRecords } from '../support/deliver.js';
import {
  GRAFANA_DIR,
  allPanels,
  datasourceReferences,
  loadDashboards,
  loadProvisioning,
  queryPanels,
  type GrafanaDashboard,
  type GrafanaPanel,
  type GrafanaVariable,
} from '../support/grafana-dashboards.js';
import {
  INFLUXQL_MACROS,
  durationMs,
  expandInfluxQuery,
  variableReferences,
  type QueryContext,
  type VariableState,
} from '../support/grafana-query-expansion.js';
import { tableColumns } from '../support/grafana-table-columns.js';
import {
  SELECTIONS,
  resolveVariables,
  selectedValues,
  type ResolvedVariables,
  type Selection,
} from '../support/grafana-variables.js';
import { startInfluxd, type InfluxdServer } from '../support/influxd.js';
import { tempDir } from '../support/module-process.js';
import { writeQueueMetricsPoints } from '../support/queue-metrics-points.js';
import { realisticDay, type RealisticDay } from '../support/realistic-day.js';
import { writeThroughModule } from '../support/write-through-module.js';

const DATASOURCE_REF = { type: 'influxdb', uid: '${datasource}' };
const PROVISIONED_DATASOURCE_UID = 'butler-sos-audit';
/** The classic dashboard JSON model's schemaVersion in current Grafana (12.x, 13.x); its last one. */
const SCHEMA_VERSION = 42;
const DB = 'butler-audit';
const DAY_MS = 24 * 3600_000;
/** What Grafana computes for a 24 h range on a dashboard-wide panel: 86.4 s rounded to 1 m. */
const INTERVAL_24H_MS = 60_000;

const dashboards = loadDashboards();

interface TimeRange {
  fromMs: number;
  toMs: number;
}

/** The query text of a variable as Grafana stores it for InfluxQL. */
function variableQuery(variable: GrafanaVariable): string {
  return variable.query ?? '';
}

function rectanglesOverlap(a: GrafanaPanel['gridPos'], b: GrafanaPanel['gridPos']): boolean {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

describe('Grafana dashboards in docs/grafana: what Grafana imports', () => {
  it('has the five dashboards, each with its own uid and title', () => {
    expect(dashboards.map(({ dashboard }) => dashboard.uid)).to.have.members([
      'butler-sos-audit-overview',
      'butler-sos-audit-who-looked-at-what',
      'butler-sos-audit-selections',
      'butler-sos-audit-session-trail',
      'butler-sos-audit-module-health',
    ]);
    expect(new Set(dashboards.map(({ dashboard }) => dashboard.title)).size).to.equal(dashboards.length);
  });

  for (const { file, dashboard } of dashboards) {
    describe(file, () => {
      it(`has schemaVersion ${SCHEMA_VERSION}, a uid Grafana accepts, no database id, and the last 24 h`, () => {
        expect(dashboard.schemaVersion).to.equal(SCHEMA_VERSION);
        expect(dashboard.uid).to.match(/^[A-Za-z0-9_-]{1,40}$/);
        expect(dashboard.id ?? null).to.equal(null);
        expect(dashboard.title).to.be.a('string').and.not.equal('');
        expect(dashboard.time).to.deep.equal({ from: 'now-24h', to: 'now' });
      });

      it('has unique panel ids and a gridPos on every panel, inside the 24 columns, none overlapping', () => {
        const panels = allPanels(dashboard);
        expect(panels.length).to.be.greaterThan(0);
        const ids = panels.map((panel) => panel.id);
        expect(ids.every((id) => Number.isInteger(id) && id > 0)).to.equal(true);
        expect(new Set(ids).size, 'panel ids').to.equal(ids.length);
        for (const panel of panels) {
          const { x, y, w, h } = panel.gridPos ?? ({} as GrafanaPanel['gridPos']);
          expect([x, y, w, h].every(Number.isInteger), `gridPos of ${panel.title}`).to.equal(true);
          expect(x >= 0 && y >= 0 && w >= 1 && h >= 1 && x + w <= 24, `gridPos of ${panel.title}`).to.equal(
            true,
          );
        }
        for (const [index, panel] of panels.entries()) {
          for (const other of panels.slice(index + 1)) {
            expect(
              rectanglesOverlap(panel.gridPos, other.gridPos),
              `${panel.title} / ${other.title}`,
            ).to.equal(false);
          }
        }
      });

      it('reaches its data source only through the datasource variable', () => {
        const [first] = dashboard.templating.list;
        expect(first).to.include({ name: 'datasource', type: 'datasource', query: 'influxdb' });
        expect(first.current?.value, 'the provisioned data source is the default').to.equal(
          PROVISIONED_DATASOURCE_UID,
        );
        const references = datasourceReferences(dashboard);
        expect(references.length).to.be.greaterThan(0);
        for (const { at, ref } of references) expect(ref, at).to.deep.equal(DATASOURCE_REF);
        for (const panel of queryPanels(dashboard)) {
          expect(panel.datasource, panel.title).to.deep.equal(DATASOURCE_REF);
          for (const target of panel.targets ?? []) expect(target.datasource).to.deep.equal(DATASOURCE_REF);
        }
      });

      it('gives every panel raw InfluxQL targets with unique refIds', () => {
        for (const panel of queryPanels(dashboard)) {
          const targets = panel.targets ?? [];
          expect(targets.length, panel.title).to.be.greaterThan(0);
          expect(new Set(targets.map((target) => target.refId)).size, panel.title).to.equal(targets.length);
          for (const target of targets) {
            expect(target.rawQuery, panel.title).to.equal(true);
            expect(target.query, panel.title).to.match(/^(SELECT|SHOW) /);
            expect(['time_series', 'table'], panel.title).to.include(target.resultFormat);
          }
        }
      });

      it('refers only to variables it defines (or to Grafana macros), each defined before it is used', () => {
        const defined = new Set<string>();
        for (const variable of dashboard.templating.list) {
          for (const name of variableReferences(variableQuery(variable))) {
            expect(defined.has(name) || INFLUXQL_MACROS.has(name), `${variable.name} uses $${name}`).to.equal(
              true,
            );
          }
          defined.add(variable.name);
        }
        const used = new Set<string>();
        for (const variable of dashboard.templating.list)
          variableReferences(variableQuery(variable)).forEach((name) => used.add(name));
        for (const panel of queryPanels(dashboard)) {
          for (const target of panel.targets ?? []) {
            for (const name of variableReferences(target.query ?? '')) {
              expect(defined.has(name) || INFLUXQL_MACROS.has(name), `${panel.title} uses $${name}`).to.equal(
                true,
              );
              used.add(name);
            }
          }
        }
        for (const variable of dashboard.templating.list.slice(1)) {
          expect(used.has(variable.name), `variable ${variable.name} is used`).to.equal(true);
        }
      });

      it('lists tag values with SHOW TAG VALUES, field values with SELECT DISTINCT, refreshed when they depend on the time range', () => {
        for (const variable of dashboard.templating.list.filter(({ type }) => type === 'query')) {
          const query = variableQuery(variable);
          expect(query, variable.name).to.match(/^(SHOW TAG VALUES FROM |SELECT DISTINCT\()/);
          expect(variable.definition, variable.name).to.equal(query);
          // Grafana's refresh: 1 = on dashboard load, 2 = on time range change.
          expect(variable.refresh, variable.name).to.equal(query.includes('$timeFilter') ? 2 : 1);
          if (variable.includeAll) expect(variable.allValue, variable.name).to.equal('.*');
        }
      });
    });
  }

  it('provisions one InfluxDB data source with the uid the dashboards default to, read with InfluxQL', () => {
    const files = loadProvisioning('datasources');
    expect(files.map(({ file }) => file)).to.deep.equal(['butler-sos-audit.yaml']);
    const config = files[0].config as { apiVersion: number; datasources: Array<Record<string, unknown>> };
    expect(config.apiVersion).to.equal(1);
    expect(config.datasources).to.have.length(1);
    expect(config.datasources[0]).to.include({
      type: 'influxdb',
      uid: PROVISIONED_DATASOURCE_UID,
      access: 'proxy',
    });
    expect(config.datasources[0].jsonData).to.include({ version: 'InfluxQL', dbName: DB });
  });

  it('provisions the dashboards from files, into one folder', () => {
    const files = loadProvisioning('dashboards');
    expect(files.map(({ file }) => file)).to.deep.equal(['butler-sos-audit.yaml']);
    const config = files[0].config as { apiVersion: number; providers: Array<Record<string, unknown>> };
    expect(config.apiVersion).to.equal(1);
    expect(config.providers).to.have.length(1);
    expect(config.providers[0]).to.include({ type: 'file', folder: 'Butler SOS audit' });
    expect((config.providers[0].options as { path: string }).path)
      .to.be.a('string')
      .and.not.equal('');
  });

  it('describes every dashboard and every panel in docs/grafana/README.md', () => {
    const readme = readFileSync(path.join(GRAFANA_DIR, 'README.md'), 'utf8');
    for (const { file, dashboard } of dashboards) {
      expect(readme, file).to.include(`dashboards/${file}`);
      for (const panel of queryPanels(dashboard))
        expect(readme, `${file}: ${panel.title}`).to.include(panel.title);
    }
  });
});

/** The panel's interval: Grafana's for the range, or the panel's min interval when that is larger. */
function panelContext(panel: GrafanaPanel, resolved: ResolvedVariables, range: TimeRange): QueryContext {
  const minimum = panel.interval ? durationMs(panel.interval) : 0;
  return { variables: resolved.variables, ...range, intervalMs: Math.max(INTERVAL_24H_MS, minimum) };
}

interface TablePanelOptions {
  options?: { sortBy?: Array<{ displayName: string }> };
  fieldConfig?: { overrides?: Array<{ matcher: { id: string; options: string } }> };
}

describe('Grafana dashboards in docs/grafana: every query against a realistic day written by the module', function () {
  this.timeout(180000);
  let influxd: InfluxdServer;
  let day: RealisticDay;
  let range: TimeRange;

  const resolve = (dashboard: GrafanaDashboard, selection: Selection) =>
    resolveVariables(dashboard, selection, {
      runQuery: (query) => influxd.query(DB, query),
      ...range,
      intervalMs: INTERVAL_24H_MS,
    });

  before(async () => {
    influxd = await startInfluxd();
    day = realisticDay();
    await writeThroughModule(day.envelopes, {
      influx: { port: influxd.port, dbName: DB },
      baseDir: tempDir('grafana-day'),
      staticTags: [{ name: 'qs_env', value: 'prod' }],
    });
    // Two Butler SOS hosts write queue metrics, so that the host variable has a choice.
    for (const host of ['butler-sos-01', 'butler-sos-02'])
      await writeQueueMetricsPoints(influxd, DB, { host, staticTags: [{ name: 'qs_env', value: 'prod' }] });
    const now = Date.now();
    range = { fromMs: now - DAY_MS, toMs: now };
  });

  after(async () => {
    await influxd?.stop();
  });

  it("holds the queue metrics the module wrote while it ran, beside the day's history", async () => {
    const [row] = await influxd.query(
      DB,
      `SELECT count("messages_received") AS "points", sum("messages_queued") AS "accepted" FROM "audit_events_queue" WHERE "host" = '${hostname()}'`,
    );
    expect(row.points).to.be.greaterThan(1);
    expect(row.accepted).to.equal(day.envelopes.length);
  });

  it('holds the whole realistic day: every envelope posted is one point', async () => {
    const [row] = await influxd.query(DB, 'SELECT count("eventId") AS "n" FROM "audit_event"');
    expect(row.n).to.equal(day.envelopes.length);
    expect(day.envelopes.length).to.be.greaterThan(200);
  });

  for (const { file, dashboard } of dashboards) {
    for (const selection of SELECTIONS) {
      describe(`${file}, variables set to ${selection}`, () => {
        let resolved: ResolvedVariables;

        before(async () => {
          resolved = await resolve(dashboard, selection);
        });

        it('answers every variable query with values', () => {
          const queryVariables = dashboard.templating.list.filter(({ type }) => type === 'query');
          expect(resolved.queries.map(({ name }) => name)).to.deep.equal(
            queryVariables.map(({ name }) => name),
          );
          for (const { name, query, options } of resolved.queries) {
            expect(options.length, `${name}: ${query}`).to.be.greaterThan(0);
            expect(options, `${name}: ${query}`).not.to.include('undefined');
          }
        });

        for (const panel of queryPanels(dashboard)) {
          it(`answers with rows: ${panel.title}`, async () => {
            for (const target of panel.targets ?? []) {
              const query = expandInfluxQuery(target.query as string, panelContext(panel, resolved, range));
              const rows = await influxd.query(DB, query);
              expect(rows.length, query).to.be.greaterThan(0);
              // What a user selected is what the panel shows.
              for (const [variable, column] of [
                ['user', 'userId'],
                ['app', 'appName'],
                ['host', 'host'],
              ]) {
                const values = selectedValues(resolved, variable);
                if (!values) continue;
                for (const row of rows) {
                  if (row[column] !== undefined)
                    expect(values, `${column} in ${query}`).to.include(row[column]);
                }
              }
              if (target.resultFormat !== 'table') continue;
              const columns = tableColumns(panel, Object.keys(rows[0]));
              const table = panel as GrafanaPanel & TablePanelOptions;
              for (const { displayName } of table.options?.sortBy ?? [])
                expect(columns, `${panel.title}: sortBy`).to.include(displayName);
              for (const { matcher } of table.fieldConfig?.overrides ?? [])
                expect(columns, `${panel.title}: override`).to.include(matcher.options);
            }
          });
        }
      });
    }
  }

  describe('figures that match the day the module wrote', () => {
    const byUid = (uid: string) => dashboards.find(({ dashboard }) => dashboard.uid === uid)!.dashboard;

    /** The rows of a panel's first query, with the dashboard's variables set to `selection`. */
    async function panelRows(uid: string, title: string, selection: Selection) {
      const dashboard = byUid(uid);
      const resolved = await resolve(dashboard, selection);
      const panel = queryPanels(dashboard).find((candidate) => candidate.title === title)!;
      const query = expandInfluxQuery(panel.targets![0].query!, panelContext(panel, resolved, range));
      return { rows: await influxd.query(DB, query), resolved };
    }

    const count = (type: string) => day.envelopes.filter((envelope) => envelope.type === type).length;

    it('overview: events, active users, apps used and sheets opened', async () => {
      const overview = 'butler-sos-audit-overview';
      expect((await panelRows(overview, 'Events', 'All')).rows[0].events).to.equal(day.envelopes.length);
      expect((await panelRows(overview, 'Active users', 'All')).rows[0].users).to.equal(5);
      expect((await panelRows(overview, 'Apps used', 'All')).rows[0].apps).to.equal(3);
      expect((await panelRows(overview, 'Sheets opened', 'All')).rows[0]['sheets opened']).to.equal(
        count('navigation.sheet.loaded'),
      );
    });

    it('who looked at what: views and total view time per user and app', async () => {
      const { rows } = await panelRows(
        'butler-sos-audit-who-looked-at-what',
        'View time per user and app',
        'All',
      );
      const expected = new Map<string, { views: number; total: number }>();
      for (const envelope of day.envelopes.filter(({ type }) => type === 'object.view.duration')) {
        const userId = String(envelope.payload.context?.user).split('UserId=')[1];
        const key = `${userId} in ${envelope.payload.context?.appName}`;
        const sum = expected.get(key) ?? { views: 0, total: 0 };
        expected.set(key, {
          views: sum.views + 1,
          total: sum.total + Number(envelope.payload.event?.duration),
        });
      }
      const actual = new Map(
        rows.map((row) => [
          `${row.userId} in ${row.appName}`,
          { views: row.views, total: row['total view time'] },
        ]),
      );
      expect(actual).to.deep.equal(expected);
    });

    it('selections: how many', async () => {
      const { rows } = await panelRows('butler-sos-audit-selections', 'Selections', 'All');
      expect(rows[0].selections).to.equal(count('selection.state.changed'));
    });

    it("a session's trail: every event of the session and no other", async () => {
      const { rows, resolved } = await panelRows(
        'butler-sos-audit-session-trail',
        'Every event of the session, in time order',
        'one value',
      );
      const [session] = resolved.variables.get('trail')!.current as string[];
      const expected = day.envelopes.filter(
        (envelope) =>
          envelope.correlationId === session || envelope.payload.event?.selectionTxnId === session,
      );
      expect(rows.map((row) => row.eventId)).to.deep.equal(expected.map((envelope) => envelope.eventId));
    });
  });

  describe("the session trail's screenshot files", () => {
    const trail = dashboards.find(({ dashboard }) => dashboard.uid === 'butler-sos-audit-session-trail')!;
    const screenshotPanels = queryPanels(trail.dashboard).filter((panel) =>
      panel.targets?.some((target) => target.query?.includes('"screenshotSavedPaths"')),
    );

    function trailContext(correlationId: string): QueryContext {
      const variables = new Map<string, VariableState>([
        [
          'measurement',
          { name: 'measurement', current: ['audit_event'], options: ['audit_event'], multi: false },
        ],
        ['trail', { name: 'trail', current: [correlationId], options: [correlationId], multi: false }],
      ]);
      return { variables, ...range, intervalMs: INTERVAL_24H_MS };
    }

    it('has panels that show them', () => {
      expect(screenshotPanels.map((panel) => panel.title)).to.have.length.greaterThan(0);
    });

    it('answers with rows while no event carries saved paths (the field does not exist yet)', async () => {
      const fields = await influxd.query(DB, 'SHOW FIELD KEYS FROM "audit_event"');
      expect(fields.map((row) => row.fieldKey)).not.to.include('screenshotSavedPaths');
      const session = day.sessions[0].correlationId;
      expect(screenshotPanels.length).to.be.greaterThan(0);
      for (const panel of screenshotPanels) {
        const rows = await influxd.query(
          DB,
          expandInfluxQuery(panel.targets![0].query!, trailContext(session)),
        );
        expect(rows.length, panel.title).to.be.greaterThan(0);
        expect(
          rows.every((row) => row.screenshotSavedPaths === null),
          panel.title,
        ).to.equal(true);
      }
    });

    it('shows the saved paths of an event that carries them, as the module writes it', async () => {
      const db = 'with-screenshots';
      const config = validConfig({
        destination: {
          type: 'influxdb',
          influxdb: { host: '127.0.0.1', port: influxd.port, version: 1, v1Config: { dbName: db } },
        },
      });
      const destination = createInfluxdbDestination(config.destination.influxdb!, {
        logger: createSilentLogger(),
      });
      await destination.ready;
      const envelope = day.envelopes.find((event) => event.type === 'screenshot.url.received')!;
      const savedPaths = [`/var/lib/butler-sos/screenshots/${envelope.eventId}.png`];
      await deliverRecords(destination, [toAuditRecord(envelope, { screenshot: { savedPaths } })]);
      await destination.close();
      expect(screenshotPanels.length).to.be.greaterThan(0);
      for (const panel of screenshotPanels) {
        const query = expandInfluxQuery(panel.targets![0].query!, trailContext(envelope.correlationId!));
        const rows = await influxd.query(db, query);
        expect(
          rows.map((row) => row.screenshotSavedPaths),
          panel.title,
        ).to.deep.equal([JSON.stringify(savedPaths)]);
      }
    });
  });
});
