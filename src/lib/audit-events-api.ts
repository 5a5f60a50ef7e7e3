/**
 * The audit API (docs/http-api.md): a fastify server that receives Audit.qs envelopes, checks them in
 * this order — rate limit per client, bearer token, rate limit of all clients, content type and
 * size, envelope schema (400), semantics and per-type payload (422) — and hands accepted
 * envelopes to the event log. It also answers health and Prometheus metrics, and counts every answer.
 * Every answer, fastify's and the plugins' included, has the one body shape of http/replies.ts;
 * every refusal is logged at debug, and at warn once a minute per kind and origin (http/refusal-log.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import rateLimit from '@fastify/rate-limit';
import { fastify, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createEnvelopeValidator, type EnvelopeValidator } from './audit-events/envelope-validator.js';
import {
  AUDIT_QS_VERSION_HEADER,
  extensionVersionProblem,
  type ExtensionVersion,
} from './audit-events/extension-version.js';
import {
  acceptedReplyBody,
  badRequest,
  errorReplyBody,
  notFound,
  toApiError,
  tooManyRequests,
  unauthorized,
  unprocessable,
  unsupportedMediaType,
  type ApiError,
} from './http/replies.js';
import { createAllClientsLimit } from './http/all-clients-limit.js';
import { addCors, createOriginPolicy } from './http/cors.js';
import { createJsonBodyParser, InvalidJsonBodyError } from './http/json-body.js';
import { createRefusalLog, type RefusalLog } from './http/refusal-log.js';
import { AUDIT_API_ROUTES } from './http/routes.js';
import { createThrottledWarnings, type ThrottledWarnings } from './http/throttled-warnings.js';
import type { AuditEnvelope } from './audit-events/types.js';
import { CONFIG_ROOT, type AuditEventsConfig } from './config/schema.js';
import { errorMessage } from './errors.js';
import type { Logger } from './logger.js';

/** What the API counts, and the Prometheus text it serves (metrics/audit-metrics.ts). */
export interface ApiMetrics {
  /** An answer of POST /api/v1/audit-event; `type` when the body was read and had one. */
  eventAnswered(type: string | undefined, status: number): void;
  httpAnswered(status: number): void;
  /** Where the count of `queue.rateLimit`'s current minute is read. */
  readRateLimitWith(read: () => number): void;
  text(): Promise<string>;
  readonly contentType: string;
}

export interface AuditApiDeps {
  config: AuditEventsConfig;
  logger: Logger;
  /** Appends an accepted envelope to the event log; resolves once it is durable. Throws ServiceUnavailableError when full or shutting down. */
  accept(envelope: AuditEnvelope): Promise<void>;
  /** Health of destinations and the log, for GET /api/v1/health. */
  health(): { healthy: boolean; destinations: unknown[]; log: unknown };
  /** Butler SOS version for test-connection. */
  version: string;
  metrics: ApiMetrics;
}

const RATE_LIMIT_WINDOW_MS = 60_000;

/** Builds the server without listening: the caller calls `listen({ host, port })`. */
export async function buildAuditEventsApi(deps: AuditApiDeps): Promise<FastifyInstance> {
  const { config, logger } = deps;
  const app = await createServer(config);
  // One per server: warnings that would repeat on every request, once a minute with a count.
  const warnings = createThrottledWarnings(logger);
  app.addHook('onClose', async () => warnings.close());
  const origins = createOriginPolicy(config.cors.allowedOrigins);
  for (const problem of origins.problems) logger.warn(problem);
  const refusals = createRefusalLog(warnings, {
    origins,
    rateLimit: config.rateLimit,
    trustProxy: config.trustProxy,
  });
  answerEveryErrorInOneShape(app, config, logger, refusals);
  addSecurityHeaders(app, config.tls.enable);
  countEveryAnswer(app, deps.metrics);
  // Hooks run in the order they are added: the CORS headers (and an allowed origin's preflight,
  // which carries no event), then the checks: rate limit, then the token.
  await addCors(app, origins, logger);
  await addRateLimit(app, config);
  addBearerAuth(app, config.apiToken);
  useStrictJsonBodyParser(app);
  registerRoutes(app, deps, warnings, eventRouteLimit(app, deps));
  return app;
}

// ---------------------------------------------------------------------------------------
// Server and transport
// ---------------------------------------------------------------------------------------

async function createServer(config: AuditEventsConfig): Promise<FastifyInstance> {
  const options = {
    // We log through deps.logger ourselves: never a payload above debug, never the Authorization header.
    logger: false,
    // true: request.ip is the first X-Forwarded-For address; false: the socket's peer.
    trustProxy: config.trustProxy,
    bodyLimit: config.bodyLimitBytes,
    // fastify's own 503 while closing would bypass our body shape; the log answers 503 itself.
    return503OnClosing: false,
  };
  const https = await httpsOptions(config.tls);
  // fastify types an HTTPS instance apart; callers only listen, close and inject, which both share.
  return (https ? fastify({ ...options, https }) : fastify(options)) as unknown as FastifyInstance;
}

async function httpsOptions(tls: AuditEventsConfig['tls']): Promise<HttpsServerOptions | undefined> {
  if (!tls.enable) return undefined;
  if (!tls.certFile || !tls.keyFile)
    throw new Error('tls.certFile and tls.keyFile are required when tls.enable is true');
  // With a CA, only clients holding a certificate it signed get through (mutual TLS).
  const clientCertificates = tls.caFile
    ? { ca: await readFile(tls.caFile), requestCert: true, rejectUnauthorized: true }
    : {};
  return {
    cert: await readFile(tls.certFile),
    key: await readFile(tls.keyFile),
    passphrase: tls.passphrase,
    minVersion: tls.minVersion,
    ...clientCertificates,
  };
}

function securityHeaders(tlsEnabled: boolean): Record<string, string> {
  return {
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
    'Content-Security-Policy': "default-src 'none'",
    'Referrer-Policy': 'no-referrer',
    ...(tlsEnabled ? { 'Strict-Transport-Security': 'max-age=31536000' } : {}),
  };
}

/** onSend runs for every reply — errors, 404, 429, preflight — unlike onRequest, which a refusal may skip. */
function addSecurityHeaders(app: FastifyInstance, tlsEnabled: boolean): void {
  const headers = securityHeaders(tlsEnabled);
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.headers(headers);
    done(null, payload);
  });
}

/** onResponse sees every answer, refusals by hooks and the not-found handler included. */
function countEveryAnswer(app: FastifyInstance, metrics: ApiMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpAnswered(reply.statusCode);
    if (request.method === 'POST' && request.routeOptions.url === AUDIT_API_ROUTES.event) {
      const type = (request.body as { type?: unknown } | undefined)?.type;
      metrics.eventAnswered(typeof type === 'string' ? type : undefined, reply.statusCode);
    }
  });
}

// ---------------------------------------------------------------------------------------
// Errors in the one body shape
// ---------------------------------------------------------------------------------------

function answerEveryErrorInOneShape(
  app: FastifyInstance,
  config: AuditEventsConfig,
  logger: Logger,
  refusals: RefusalLog,
): void {
  app.setErrorHandler((error, request, reply) => {
    const apiError = toApiError(error, config.bodyLimitBytes);
    logRefusal(logger, request, apiError, error);
    refusals.refused(request, apiError);
    return reply
      .code(apiError.statusCode)
      .headers(apiError.extras.headers ?? {})
      .send(errorReplyBody(apiError));
  });
  app.setNotFoundHandler(async () => {
    throw notFound();
  });
}

function logRefusal(logger: Logger, request: FastifyRequest, apiError: ApiError, cause: unknown): void {
  const where = { method: request.method, url: request.url, statusCode: apiError.statusCode };
  if (apiError.statusCode === 500) {
    logger.error(`audit API: unexpected error in ${where.method} ${where.url}: ${errorMessage(cause)}`);
  } else {
    logger.debug(
      `audit API: ${where.method} ${where.url} refused with ${where.statusCode}: ${apiError.message}`,
    );
  }
}

// ---------------------------------------------------------------------------------------
// Rate limit, CORS, authentication
// ---------------------------------------------------------------------------------------

/** The plugin serves both limits: `rateLimit` per client address, `queue.rateLimit` for all together. */
async function addRateLimit(app: FastifyInstance, config: AuditEventsConfig): Promise<void> {
  const perClient = config.rateLimit;
  if (!perClient.enable && !config.queue.rateLimit.enable) return;
  await app.register(rateLimit, {
    global: false,
    max: perClient.maxPerMinute,
    timeWindow: RATE_LIMIT_WINDOW_MS,
    errorResponseBuilder: (_request, context) => tooManyRequests(context.max, Math.ceil(context.ttl / 1000)),
  });
  // One app-wide hook rather than the plugin's per-route ones: it then runs before every
  // other hook, and for unknown routes too. The key is request.ip (see trustProxy).
  if (perClient.enable) app.addHook('onRequest', app.rateLimit());
}

/**
 * The event route's own onRequest hook: `queue.rateLimit`, after the token (a client without
 * it cannot use up everyone's minute) and before the body is read.
 */
function eventRouteLimit(app: FastifyInstance, { config, metrics }: AuditApiDeps) {
  if (!config.queue.rateLimit.enable) return [];
  const limit = createAllClientsLimit(app, config.queue.rateLimit, RATE_LIMIT_WINDOW_MS);
  metrics.readRateLimitWith(limit.current);
  return [limit.check];
}

/**
 * Why the Authorization header does not carry the token (for the log: never the token itself),
 * or undefined when it does. Compares in constant time: equal-length SHA-256 digests, so
 * neither length nor content leaks.
 */
function createBearerTokenCheck(apiToken: string): (authorization: string | undefined) => string | undefined {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  const expected = digest(apiToken);
  return (authorization) => {
    if (authorization === undefined) {
      return `no Authorization header; set the token of ${CONFIG_ROOT}.apiToken in the Audit.qs extension`;
    }
    const presented = /^Bearer +(.+)$/i.exec(authorization)?.[1];
    if (presented === undefined) return "the Authorization header is not 'Bearer <token>'";
    if (timingSafeEqual(digest(presented), expected)) return undefined;
    return `the bearer token does not match ${CONFIG_ROOT}.apiToken; set the same token in the Audit.qs extension`;
  };
}

function addBearerAuth(app: FastifyInstance, apiToken: string): void {
  if (apiToken === '') return; // no token configured: the API is open (warned at start)
  const tokenProblem = createBearerTokenCheck(apiToken);
  // onRequest, before the body is read: a client without the token learns nothing about the schema.
  app.addHook('onRequest', async (request) => {
    const problem = tokenProblem(request.headers.authorization);
    if (problem !== undefined) throw unauthorized(problem);
  });
}

// ---------------------------------------------------------------------------------------
// Body parsing
// ---------------------------------------------------------------------------------------

/** Only application/json is parsed (anything else is a 415), by our strict parser. */
function useStrictJsonBodyParser(app: FastifyInstance): void {
  const parseJsonBody = createJsonBodyParser();
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (error) {
      done(
        error instanceof InvalidJsonBodyError
          ? badRequest(
              error.message,
              [{ instancePath: error.instancePath, message: error.message }],
              error.logMessage,
            )
          : (error as Error),
      );
    }
  });
}

// ---------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------

function registerRoutes(
  app: FastifyInstance,
  deps: AuditApiDeps,
  warnings: ThrottledWarnings,
  eventHooks: Array<(request: FastifyRequest) => Promise<void>>,
): void {
  app.post(AUDIT_API_ROUTES.event, { onRequest: eventHooks }, createAuditEventHandler(deps, warnings));
  app.get(AUDIT_API_ROUTES.testConnection, async (request) =>
    testConnectionBody(deps.version, headerVersionOf(request)),
  );
  app.get(AUDIT_API_ROUTES.health, async (_request, reply) => sendHealth(reply, deps.health()));
  app.get(AUDIT_API_ROUTES.metrics, async (_request, reply) =>
    reply.type(deps.metrics.contentType).send(await deps.metrics.text()),
  );
}

/**
 * The X-Audit-QS-Version header's first non-blank value, trimmed; undefined when there is none.
 * Proxies append headers: a header sent twice arrives as one comma list ('1.4.0, 1.4.0'), and
 * the first value is the one the extension sent.
 */
function headerVersionOf(request: FastifyRequest): string | undefined {
  const header = request.headers[AUDIT_QS_VERSION_HEADER];
  const values = (Array.isArray(header) ? header : [header ?? '']).flatMap((value) => value.split(','));
  return values.map((value) => value.trim()).find((value) => value !== '');
}

/**
 * The envelope when it passes both layers of checks, with the extension version found on the
 * way; throws the 415, 400 or 422 otherwise.
 */
function validEnvelope(
  validator: EnvelopeValidator,
  body: unknown,
  headerVersion: string | undefined,
): { envelope: AuditEnvelope; extensionVersion: ExtensionVersion | undefined } {
  // No Content-Type and no body: fastify skipped parsing altogether.
  if (body === undefined) throw unsupportedMediaType();
  const envelopeErrors = validator.validateEnvelope(body);
  if (envelopeErrors.length > 0) throw badRequest('invalid envelope', envelopeErrors);
  const envelope = body as AuditEnvelope;
  const { errors, extensionVersion } = validator.checkSemantics(envelope, headerVersion);
  if (errors.length > 0) throw unprocessable(errors);
  return { envelope, extensionVersion };
}

function createAuditEventHandler({ accept, logger }: AuditApiDeps, warnings: ThrottledWarnings) {
  const validator = createEnvelopeValidator();

  /** Validates one envelope and appends it to the event log; 202 once it is durable. */
  return async function receiveAuditEvent(request: FastifyRequest, reply: FastifyReply) {
    const { envelope, extensionVersion } = validEnvelope(validator, request.body, headerVersionOf(request));
    if (extensionVersion === undefined) {
      warnings.warn(
        'no version',
        request.headers.origin ?? 'no Origin header',
        'audit API: event without extension version (no X-Audit-QS-Version header, no source.version): accepted',
      );
    }
    await accept(envelope);
    logger.debug(`audit event ${envelope.eventId} (${envelope.type}) accepted`);
    return reply.code(202).send(acceptedReplyBody());
  };
}

function testConnectionBody(butlerSosVersion: string, auditQsVersion: string | undefined) {
  return {
    status: 'ok',
    message: 'Butler SOS audit API is reachable',
    timestamp: new Date().toISOString(),
    butlerSosVersion,
    auditQsVersion: auditQsVersion ?? null,
    // A missing version is accepted, so it counts as compatible.
    compatible: auditQsVersion === undefined || extensionVersionProblem(auditQsVersion) === undefined,
  };
}

function sendHealth(reply: FastifyReply, health: ReturnType<AuditApiDeps['health']>) {
  return reply.code(health.healthy ? 200 : 503).send({
    status: health.healthy ? 'ok' : 'unhealthy',
    destinations: health.destinations,
    log: health.log,
  });
}
