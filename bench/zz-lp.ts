const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
import { buildAuditInfluxPointModel } from '../dist/lib/audit-destinations/influxdb/point-model.js';
import { toLineProtocol } from '../dist/lib/audit-destinations/influxdb/line-protocol.js';
import { toAuditRecord } from '../dist/lib/audit-events/record.js';
import { encodePayload, decodePayload } from '../dist/lib/audit-journal/record-format.js';
import { createEventFactory } from './realistic-events.js';
const next = createEventFactory();
const N = 30000;
const envs = Array.from({ length: N }, (_, i) => next(i));
const payloads = envs.map(encodePayload);
const mapping = { measurementName: 'audit_event', auditEventSchemaVersion: '1', staticTags: [], idTags: false };
for (let round = 0; round < 3; round++) {
  let t = cpuMs(); const decoded = payloads.map(decodePayload); const tDecode = cpuMs() - t;
  t = cpuMs(); const records = decoded.map((e) => toAuditRecord(e)); const tRecord = cpuMs() - t;
  t = cpuMs(); const points = records.map((r) => buildAuditInfluxPointModel(r, mapping)); const tPoint = cpuMs() - t;
  t = cpuMs(); const lines = points.map((p) => toLineProtocol(p, { maxStringFieldBytes: 65536 })); const tLine = cpuMs() - t;
  const us = (ms: number) => ((ms * 1000) / N).toFixed(2);
  console.log(`decode ${us(tDecode)} µs  record ${us(tRecord)} µs  point ${us(tPoint)} µs  line ${us(tLine)} µs  bytes/line ${(lines.reduce((a, l) => a + l.length, 0) / N).toFixed(0)}`);
}
