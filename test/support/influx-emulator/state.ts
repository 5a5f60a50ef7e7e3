/**
 * What one emulator holds between requests: its counters and recorded requests, the queued
 * faults, the v2 orgs and buckets, and the v3 databases.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { InfluxdServer } from '../influxd.js';

export interface WriteFault {
  status: 500 | 503 | 429;
  /** Sent as `Retry-After: <seconds>`. */
  retryAfterSeconds?: number;
  /** Response body (an object is sent as JSON); the server's usual body for the status if unset. */
  body?: string | object;
}

export interface EmulatorStats {
  /** Write requests received, faulted ones included. */
  writeRequests: number;
  /** Lines influxd stored (rejected lines and faulted requests excluded). */
  writtenLines: number;
  /** Request body bytes of write requests as received (compressed if gzip). */
  bytes: number;
  /** Write requests with `no_sync=true`. */
  noSyncRequests: number;
  /** Write requests with `Content-Encoding: gzip`. */
  gzipRequests: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** The status answered; unset while held or when the connection was dropped. */
  status?: number;
  outcome?: 'answered' | 'held' | 'dropped';
  /** When it arrived (Date.now()), e.g. to check that a client waited as long as Retry-After asked. */
  receivedAt: number;
}

export type Fault = { kind: 'fail'; fault: WriteFault } | { kind: 'timeout' } | { kind: 'drop' };

export interface V2Org {
  id: string;
  name: string;
  createdAt: string;
}

export interface V2Bucket {
  id: string;
  orgID: string;
  name: string;
  description?: string;
  everySeconds: number;
  shardGroupDurationSeconds: number;
  createdAt: string;
}

export interface EmulatorState {
  readonly version: 2 | 3;
  readonly influxd: InfluxdServer;
  token: string;
  /** v2: tokens that authenticate but may not write. */
  readonly readOnlyTokens: string[];
  port: number;
  /** Names scratch databases uniquely. */
  scratchCounter: number;
  /** Write bodies over this many bytes answer 413. */
  readonly maxRequestBytes: number;
  readonly stats: EmulatorStats;
  readonly requests: RecordedRequest[];
  readonly faults: Fault[];
  readonly held: Set<ServerResponse>;
  readonly orgs: V2Org[];
  readonly buckets: V2Bucket[];
  /** v3 database name → its creation in influxd (shared by concurrent writers). */
  readonly databases: Map<string, Promise<void>>;
}

const DEFAULT_ORGS = ['my-org'];

export /** What the state starts from (the emulator's options). */
interface StateOptions {
  version: 2 | 3;
  influxd: InfluxdServer;
  token: string;
  orgs?: string[];
  readOnlyTokens?: string[];
  maxRequestBytes?: number;
}

export function createState(options: StateOptions): EmulatorState {
  const now = new Date().toISOString();
  return {
    version: options.version,
    influxd: options.influxd,
    token: options.token,
    readOnlyTokens: options.readOnlyTokens ?? [],
    port: 0,
    scratchCounter: 0,
    maxRequestBytes: options.maxRequestBytes ?? Infinity,
    stats: { writeRequests: 0, writtenLines: 0, bytes: 0, noSyncRequests: 0, gzipRequests: 0 },
    requests: [],
    faults: [],
    held: new Set(),
    orgs: (options.orgs ?? DEFAULT_ORGS).map((name) => ({ id: newV2Id(), name, createdAt: now })),
    buckets: [],
    databases: new Map(),
  };
}

/** 2.x IDs: 16 lowercase hex digits. */
export function newV2Id(): string {
  return randomBytes(8).toString('hex');
}
