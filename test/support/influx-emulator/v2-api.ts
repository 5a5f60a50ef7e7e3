/** The InfluxDB v2 OSS API: ping, health, orgs, buckets and writes. */
import type { InfluxdServer, WritePrecision } from '../influxd.js';
import {
  decodeBody,
  json,
  parseJsonBody,
  V2_GZIP_ENCODINGS,
  v2Error,
  type Reply,
  type RequestContext,
  type Route,
} from './http.js';
import { mayOnlyRead } from './auth-and-faults.js';
import { createDatabaseStatement, droppedPoints, findParseErrors } from './influxd-storage.js';
import { prepareLines, splitBodyLines } from './line-protocol.js';
import { newV2Id, type EmulatorState, type V2Bucket, type V2Org } from './state.js';

const V2_VERSION = 'v2.7.12';

export const V2_ROUTES: Route[] = [
  { method: 'GET', path: '/ping', public: true, handler: v2Ping },
  { method: 'HEAD', path: '/ping', public: true, handler: v2Ping },
  { method: 'GET', path: '/health', public: true, handler: v2Health },
  { method: 'GET', path: '/api/v2/orgs', handler: v2GetOrgs },
  { method: 'POST', path: '/api/v2/orgs', handler: v2PostOrg },
  { method: 'GET', path: '/api/v2/buckets', handler: v2GetBuckets },
  { method: 'POST', path: '/api/v2/buckets', handler: v2PostBucket },
  { method: 'POST', path: '/api/v2/write', write: true, handler: v2Write },
];

/** `precision` → influxd's; only these four are valid [notes §1.2, `models.ValidPrecision`]. */
const V2_PRECISIONS: Record<string, WritePrecision> = { ns: 'n', us: 'u', ms: 'ms', s: 's' };

/** [notes §1.2]: 204 with the build and version headers. */
function v2Ping(): Reply {
  return { status: 204, headers: { 'x-influxdb-build': 'OSS', 'x-influxdb-version': V2_VERSION } };
}

/** [notes §1.2] `GET /health`. */
function v2Health(): Reply {
  return json(200, {
    name: 'influxdb',
    message: 'ready for queries and writes',
    status: 'pass',
    checks: [],
    version: V2_VERSION,
    commit: 'emulator',
  });
}

/** `POST /api/v2/orgs {name, description?}` → 201 the org; a taken name → 422 `conflict` [notes §1.2]. */
function v2PostOrg(ctx: RequestContext, state: EmulatorState): Reply {
  const parsed = parseJsonBody(ctx);
  if ('error' in parsed) return v2Error(400, 'invalid', `failed to decode request body: ${parsed.error}`);
  const { name } = parsed.value;
  // Not verified against 2.x: the text for a missing name (the shape is the standard one).
  if (typeof name !== 'string' || name === '') return v2Error(400, 'invalid', 'org name is required');
  if (state.orgs.some((org) => org.name === name))
    return v2Error(422, 'conflict', `organization with name ${name} already exists`);
  const org: V2Org = { id: newV2Id(), name, createdAt: new Date().toISOString() };
  state.orgs.push(org);
  return json(201, orgJson(org));
}

function v2GetOrgs(ctx: RequestContext, state: EmulatorState): Reply {
  const found = findOrgFromQuery(ctx.query, state);
  if ('reply' in found) return found.reply;
  const orgs = found.org ? [found.org] : state.orgs;
  return json(200, { links: { self: '/api/v2/orgs' }, orgs: orgs.map(orgJson) });
}

/** Like [v2 bucket handler] `handleGetBuckets`, but a name that matches nothing is a 404 [notes §1.2]. */
function v2GetBuckets(ctx: RequestContext, state: EmulatorState): Reply {
  const found = findOrgFromQuery(ctx.query, state);
  if ('reply' in found) return found.reply;
  const name = ctx.query.get('name');
  const buckets = state.buckets.filter(
    (bucket) => (!found.org || bucket.orgID === found.org.id) && (!name || bucket.name === name),
  );
  if (name && buckets.length === 0) return v2Error(404, 'not found', `bucket "${name}" not found`);
  return json(200, { links: { self: '/api/v2/buckets' }, buckets: buckets.map(bucketJson) });
}

/** [v2 bucket handler] `handlePostBucket` + `postBucketRequest.OK`; conflict text from `kv` `BucketAlreadyExistsError`. */
async function v2PostBucket(ctx: RequestContext, state: EmulatorState): Promise<Reply> {
  const parsed = parseJsonBody(ctx);
  if ('error' in parsed) return v2Error(400, 'invalid', `failed to decode request body: ${parsed.error}`);
  const request = parsed.value;
  const invalid = validateBucketRequest(request);
  if (invalid) return invalid;
  const org = state.orgs.find((candidate) => candidate.id === request.orgID);
  if (!org) return v2Error(404, 'not found', 'organization not found');
  const name = String(request.name);
  if (state.buckets.some((bucket) => bucket.name === name))
    return v2Error(422, 'conflict', `bucket with name ${name} already exists`);
  const rule = (request.retentionRules as RetentionRuleRequest[] | undefined)?.[0];
  const bucket: V2Bucket = {
    id: newV2Id(),
    orgID: org.id,
    name,
    description:
      typeof request.description === 'string' && request.description !== '' ? request.description : undefined,
    everySeconds: rule?.everySeconds ?? 0,
    shardGroupDurationSeconds: rule?.shardGroupDurationSeconds ?? 0,
    createdAt: new Date().toISOString(),
  };
  const refused = await createBucketDatabase(state.influxd, bucket);
  if (refused) return refused;
  state.buckets.push(bucket);
  return json(201, bucketJson(bucket));
}

interface RetentionRuleRequest {
  type?: string;
  everySeconds?: number;
  shardGroupDurationSeconds?: number;
}

function validateBucketRequest(request: Record<string, unknown>): Reply | undefined {
  if (typeof request.orgID !== 'string' || !isV2Id(request.orgID))
    return v2Error(400, 'invalid', 'organization id must be provided');
  const rules = request.retentionRules;
  if (rules !== undefined && !Array.isArray(rules))
    return v2Error(400, 'invalid', 'retentionRules must be an array');
  const unprocessable = (message: string) => v2Error(422, 'unprocessable entity', message);
  if (rules && rules.length > 1)
    return unprocessable('buckets cannot have more than one retention rule at this time');
  const rule = rules?.[0] as RetentionRuleRequest | undefined;
  if (rule && (rule.everySeconds ?? 0) < 0) return unprocessable('expiration seconds cannot be negative');
  if (rule && (rule.shardGroupDurationSeconds ?? 0) < 0)
    return unprocessable('shard-group duration seconds cannot be negative');
  // Not verified against 2.x: the text for a missing name (the shape is the standard one).
  if (typeof request.name !== 'string' || request.name === '')
    return v2Error(400, 'invalid', 'bucket name is required');
  return undefined;
}

/**
 * The bucket's database with its retention as the default policy, so it is real and visible in
 * SHOW RETENTION POLICIES. influxd refuses durations under 1 h, like the 2.x engine (same meta
 * code); that answer's status (422 here) is not verified against 2.x.
 */
async function createBucketDatabase(influxd: InfluxdServer, bucket: V2Bucket): Promise<Reply | undefined> {
  try {
    await influxd.ddl(createDatabaseStatement(bucket.name, bucket.everySeconds));
    return undefined;
  } catch (error) {
    return v2Error(422, 'unprocessable entity', (error as Error).message);
  }
}

/** [notes §1.2; v2.7.12 `http/write_handler.go`]. */
async function v2Write(ctx: RequestContext, state: EmulatorState): Promise<Reply> {
  const precision = V2_PRECISIONS[ctx.query.get('precision') ?? 'ns'];
  if (!precision)
    return v2Error(400, 'invalid', 'invalid precision; valid precision units are ns, us, ms, and s');
  // OSS needs `org` or `orgID` on writes [notes §1.2].
  const found = findOrgFromQuery(ctx.query, state, true);
  if ('reply' in found) return found.reply;
  const bucket = findWriteBucket(ctx.query.get('bucket'), found.org as V2Org, state);
  if ('reply' in bucket) return bucket.reply;
  // [notes §1.2, write_handler.go]: a token without write permission on the bucket.
  if (mayOnlyRead(ctx, state)) return v2Error(403, 'forbidden', 'insufficient permissions for write');
  const decoded = decodeBody(ctx, V2_GZIP_ENCODINGS, state.maxRequestBytes);
  // [notes §1.2]: 413 `request too large`.
  if ('tooLarge' in decoded)
    return v2Error(413, 'request too large', 'unable to read data: points batch is too large');
  if ('error' in decoded) return v2Error(400, 'invalid', decoded.error);
  const lines = prepareLines(splitBodyLines(decoded.text), precision);
  if (lines.length === 0) return { status: 204 };
  // 2.x rejects the whole batch on a syntax error [notes §1.2, troubleshoot docs].
  const [firstBadLine] = await findParseErrors(state, bucket.bucket.name, lines);
  if (firstBadLine) return v2Error(400, 'invalid', firstBadLine.message);
  return forwardV2Batch(state, bucket.bucket.name, decoded.text, precision, lines.length);
}

/** Type conflicts, max-values-per-tag and points outside the RP are partial writes: 422, the rest stored [notes §1.2]. */
async function forwardV2Batch(
  state: EmulatorState,
  db: string,
  body: string,
  precision: WritePrecision,
  lineCount: number,
): Promise<Reply> {
  const outcome = await state.influxd.write(db, body, precision);
  if (outcome.status === 204) {
    state.stats.writtenLines += lineCount;
    return { status: 204 };
  }
  if (outcome.status === 400 && outcome.error?.startsWith('partial write')) {
    state.stats.writtenLines += lineCount - droppedPoints(outcome.error);
    return v2Error(422, 'unprocessable entity', `failure writing points to database: ${outcome.error}`);
  }
  if (outcome.status === 400) return v2Error(400, 'invalid', outcome.error ?? 'invalid');
  return v2Error(500, 'internal error', 'unexpected error writing points to database');
}

/** `org` may be a name or an ID, `orgID` only an ID (2.x `queryOrganization`; texts from `tenant/error_org.go` [notes §1.2]). */
function findOrgFromQuery(
  query: URLSearchParams,
  state: EmulatorState,
  required = false,
): { org?: V2Org } | { reply: Reply } {
  const orgId = query.get('orgID');
  const orgName = query.get('org');
  if (orgId) {
    if (!isV2Id(orgId)) return { reply: v2Error(400, 'invalid', 'id must have a length of 16 bytes') };
    const org = state.orgs.find((candidate) => candidate.id === orgId);
    return org ? { org } : { reply: v2Error(404, 'not found', 'organization not found') };
  }
  if (orgName) {
    const org = state.orgs.find((candidate) => candidate.name === orgName || candidate.id === orgName);
    return org ? { org } : { reply: v2Error(404, 'not found', `organization name "${orgName}" not found`) };
  }
  // Text from 2.x `ErrInvalidOrgFilter` (influxdb v2 `organization.go`).
  return required ? { reply: v2Error(400, 'invalid', 'Please provide either orgID or org') } : {};
}

/** `bucket` is a name or an ID of a bucket of the org [notes §1.2: empty → 404 `bucket not found`]. */
function findWriteBucket(
  nameOrId: string | null,
  org: V2Org,
  state: EmulatorState,
): { bucket: V2Bucket } | { reply: Reply } {
  if (!nameOrId) return { reply: v2Error(404, 'not found', 'bucket not found') };
  const bucket = state.buckets.find(
    (candidate) => candidate.orgID === org.id && (candidate.name === nameOrId || candidate.id === nameOrId),
  );
  return bucket ? { bucket } : { reply: v2Error(404, 'not found', `bucket "${nameOrId}" not found`) };
}

/** Organization as `GET /api/v2/orgs` lists it [notes §1.2]. */
function orgJson(org: V2Org): Record<string, unknown> {
  return {
    links: { self: `/api/v2/orgs/${org.id}`, buckets: `/api/v2/buckets?org=${encodeURIComponent(org.name)}` },
    id: org.id,
    name: org.name,
    description: '',
    status: 'active',
    createdAt: org.createdAt,
    updatedAt: org.createdAt,
  };
}

/** [v2 bucket handler] `NewBucketResponse`: no rule listed for infinite retention; `description` omitted when empty. */
function bucketJson(bucket: V2Bucket): Record<string, unknown> {
  const hasRule = bucket.everySeconds > 0 || bucket.shardGroupDurationSeconds > 0;
  return {
    id: bucket.id,
    orgID: bucket.orgID,
    type: 'user',
    ...(bucket.description === undefined ? {} : { description: bucket.description }),
    name: bucket.name,
    retentionRules: hasRule
      ? [
          {
            type: 'expire',
            everySeconds: bucket.everySeconds,
            shardGroupDurationSeconds: bucket.shardGroupDurationSeconds,
          },
        ]
      : [],
    createdAt: bucket.createdAt,
    updatedAt: bucket.createdAt,
    links: {
      self: `/api/v2/buckets/${bucket.id}`,
      org: `/api/v2/orgs/${bucket.orgID}`,
      write: `/api/v2/write?org=${bucket.orgID}&bucket=${bucket.id}`,
    },
    labels: [],
  };
}

function isV2Id(value: string): boolean {
  return /^[0-9a-f]{16}$/.test(value);
}
