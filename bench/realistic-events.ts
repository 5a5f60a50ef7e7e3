/**
 * Realistic Audit.qs envelopes for benchmarks: the fixtures' shapes with varied users, apps,
 * sheets and objects, in the mix a busy Qlik Sense site sends (40 % view durations, 25 %
 * selections, 20 % model validations, 10 % screenshots, 5 % unsupported visualizations).
 */
import { randomUUID } from 'node:crypto';
import { loadFixture } from '../test/support/fixtures.js';
import type { AuditEnvelope } from '../src/lib/audit-events/types.js';

const MIX: Array<[string, number]> = [
  ['object.view.duration', 40],
  ['selection.state.changed', 25],
  ['app.model.validated', 20],
  ['screenshot.url.received', 10],
  ['event.unsupported.visualization', 5],
];

function pick<T>(items: readonly T[], index: number): T {
  return items[index % items.length];
}

export function createEventFactory(): (index: number) => AuditEnvelope {
  const templates = new Map(MIX.map(([type]) => [type, loadFixture(type)]));
  const weighted = MIX.flatMap(([type, weight]) => Array.from({ length: weight }, () => type));
  const apps = Array.from({ length: 50 }, () => randomUUID());
  const start = Date.parse('2026-10-14T08:00:00.000Z');
  return (index) => {
    const template = structuredClone(templates.get(pick(weighted, index * 7))!);
    const app = pick(apps, index * 13);
    template.eventId = randomUUID();
    template.timestamp = new Date(start + index * 37).toISOString();
    template.payload.context = {
      ...template.payload.context,
      appId: app,
      appName: `App ${app.slice(0, 4)}`,
      user: `LAB\\user${String(index % 500).padStart(4, '0')}`,
      sheetName: `Sheet ${index % 10}`,
    };
    if (template.payload.event && 'objectId' in template.payload.event) {
      template.payload.event.objectId = `obj${index % 20}`;
    }
    return template;
  };
}
