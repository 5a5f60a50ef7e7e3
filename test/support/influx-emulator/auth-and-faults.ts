/**
 * What happens to a request before its route answers: queued faults (for writes), then the
 * token check, then routing, in the order each server does it.
 */
import {
  countWrite,
  json,
  notFound,
  text,
  v2Error,
  v3Error,
  type Outcome,
  type Reply,
  type RequestContext,
  type Route,
} from './http.js';
import type { EmulatorState, Fault, WriteFault } from './state.js';

/** Order as the servers do it: v3 authenticates before routing, v2 routes first. */
export async function dispatch(ctx: RequestContext, state: EmulatorState, routes: Route[]): Promise<Outcome> {
  const route = routes.find((candidate) => candidate.method === ctx.method && candidate.path === ctx.path);
  if (route?.write) {
    countWrite(ctx, state);
    const fault = state.faults.shift();
    if (fault) return faultOutcome(fault, state.version);
  }
  const authFailure = route?.public ? undefined : checkAuth(ctx, state);
  if (authFailure && (route || state.version === 3)) return authFailure;
  if (!route) return notFound(state.version);
  return route.handler(ctx, state);
}

/** v2 accepts `Authorization: Token <t>` only. v3 accepts Bearer, Token and Basic (password = token). */
function checkAuth(ctx: RequestContext, state: EmulatorState): Reply | undefined {
  const presented = presentedToken(ctx.headers.authorization, state.version);
  if (presented === state.token || mayOnlyRead(ctx, state)) return undefined;
  if (state.version === 2) {
    // [notes §1.2]: 401 `unauthorized`; the message is the one 2.x sends for a bad token.
    return v2Error(401, 'unauthorized', 'unauthorized access');
  }
  if (presented === MALFORMED) {
    // [v3 http.rs] AuthenticationError::MalformedRequest → 400, body written as `{"error": "..."}`.
    return v3Error(
      400,
      "Authorization header was malformed, the request was not in the form of 'Authorization: <auth-scheme> <token>', supported auth-schemes are Bearer, Token and Basic",
    );
  }
  // [v3 http.rs] AuthenticationError::Unauthenticated → 401 `{"error": "the request was not authenticated"}`,
  // for every path, the v2-compatible write included [notes §1.3].
  return v3Error(401, 'the request was not authenticated');
}

/** v2: the request carries one of the tokens that authenticate but may not write. */
export function mayOnlyRead(ctx: RequestContext, state: EmulatorState): boolean {
  const presented = presentedToken(ctx.headers.authorization, state.version);
  return typeof presented === 'string' && state.readOnlyTokens.includes(presented);
}

const MALFORMED = Symbol('malformed authorization header');

function presentedToken(header: string | undefined, version: 2 | 3): string | typeof MALFORMED | undefined {
  if (!header) return undefined;
  const [scheme, credentials, ...rest] = header.trim().split(/\s+/);
  if (version === 2) return scheme === 'Token' && rest.length === 0 ? credentials : undefined;
  if (!credentials || rest.length > 0) return MALFORMED;
  if (scheme === 'Bearer' || scheme === 'Token') return credentials;
  if (scheme === 'Basic') return Buffer.from(credentials, 'base64').toString('utf8').split(':')[1];
  return MALFORMED;
}

function faultOutcome(fault: Fault, version: 2 | 3): Outcome {
  if (fault.kind !== 'fail') return fault.kind === 'timeout' ? 'hold' : 'drop';
  const { status, retryAfterSeconds, body } = fault.fault;
  const headers: Record<string, string> =
    retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) };
  if (typeof body === 'string') return text(status, body, headers);
  if (body !== undefined) return json(status, body, headers);
  return version === 2
    ? json(status, V2_FAULT_BODIES[status], headers)
    : text(status, V3_FAULT_BODIES[status], headers);
}

/** Codes from the v2 status table [notes §1.2]. */
const V2_FAULT_BODIES: Record<WriteFault['status'], { code: string; message: string }> = {
  429: { code: 'too many requests', message: 'too many requests' },
  500: { code: 'internal error', message: 'unexpected error writing points to database' },
  503: { code: 'unavailable', message: 'service temporarily unavailable' },
};

/** v3 answers these statuses with plain text [notes §1.3; v3 http.rs]. */
const V3_FAULT_BODIES: Record<WriteFault['status'], string> = {
  429: 'this service is overloaded, please try again later',
  500: 'internal error',
  503: 'service temporarily unavailable',
};
