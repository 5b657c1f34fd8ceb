import {
  challenge,
  checkStepUp,
  INSUFFICIENT_USER_AUTHENTICATION,
  parseAuthorization,
  type StepUpRequirement,
  stepUpChallenge,
  stepUpOptions,
} from '@tessera/protocol';
import type { VerifiedClaims, Verifier } from './create-verifier.ts';
import { VerifyError } from './errors.ts';

/** Options every framework's `requireAuth` takes. */
export interface RequireAuthOptions {
  /** The realm in `WWW-Authenticate`. Default `api`. */
  realm?: string;
  /**
   * RFC 9470 step-up: the longest time, in seconds, since the user last authenticated (the token's
   * `auth_time`, on the verifier's clock). An older authentication is refused with
   * `insufficient_user_authentication` and `max_age`; the user re-authenticates at Tessera
   * (`POST /auth/reauthenticate`) and retries with the fresh token. Default: no limit.
   */
  maxAge?: number;
  /**
   * RFC 9470 step-up: the acceptable `acr` values (Tessera's are `'1'`, one factor, and `'2'`, two), one
   * or a list; a token with another `acr` is refused with `acr_values`. Default: any.
   */
  acr?: string | readonly string[];
}

/** A refused request as plain data: what any framework sends back (or {@link refusalResponse} builds). */
export interface AuthRefusal {
  /**
   * 400 malformed header, 401 no or bad token (or, RFC 9470, an authentication too old or too weak),
   * 503 the verifier cannot vouch for tokens now.
   */
  status: 400 | 401 | 503;
  headers: Record<string, string>;
  body: { error?: string; error_description: string; max_age?: number; acr_values?: string };
}

/** The claims of an accepted request, or the refusal to send. */
export type AuthOutcome =
  | { claims: VerifiedClaims; refusal?: undefined }
  | { claims?: undefined; refusal: AuthRefusal };

/** Request headers as web `Headers` or as Node's lower-cased header object. */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** The part of a request the check reads: a web `Request`, or anything with its headers. */
export interface RequestParts {
  headers: HeaderSource;
}

/** The `Authorization` header, or `false` when it was sent more than once (never one credential). */
function authorizationOf(headers: HeaderSource): string | undefined | null | false {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get('authorization');
  const value = (headers as Record<string, string | readonly string[] | undefined>).authorization;
  return Array.isArray(value) ? false : (value as string | undefined);
}

/**
 * The RFC 6750 answer for a request whose `Authorization` header was rejected before verification:
 * 401 with a bare challenge when there is no Bearer token (RFC 6750 §3.1), 400 `invalid_request`
 * when the header is malformed.
 */
function headerRefusal(kind: 'none' | 'malformed', realm: string): AuthRefusal {
  if (kind === 'none') {
    return {
      status: 401,
      headers: { 'www-authenticate': challenge('Bearer', { realm }) },
      body: { error_description: 'This route needs an access token.' },
    };
  }
  return {
    status: 400,
    headers: {
      'www-authenticate': challenge('Bearer', {
        realm,
        error: 'invalid_request',
        error_description: 'Malformed Authorization header',
      }),
    },
    body: {
      error: 'invalid_request',
      error_description: 'The Authorization header is not a valid Bearer token.',
    },
  };
}

/**
 * The answer for a refused token: 401 `invalid_token` with the reason, or 503
 * `temporarily_unavailable` (with `Retry-After`) when the verifier cannot vouch for tokens now.
 */
export function refusalFor(error: unknown, realm = 'api'): AuthRefusal {
  const e =
    error instanceof VerifyError ? error : new VerifyError('invalid_token', 'The access token is invalid.');
  if (e.code === 'temporarily_unavailable') {
    return {
      status: 503,
      headers: { 'retry-after': '5' },
      body: { error: 'temporarily_unavailable', error_description: e.description },
    };
  }
  return {
    status: 401,
    headers: {
      'www-authenticate': challenge('Bearer', {
        realm,
        error: 'invalid_token',
        error_description: e.description,
      }),
    },
    body: { error: 'invalid_token', error_description: e.description },
  };
}

/**
 * Checks `requireAuth` options once, when the middleware is made: `maxAge` a whole number of seconds
 * (0 or more), `acr` one or more printable ASCII values without spaces, quotes or backslashes, `realm`
 * a string. Returns them; throws a `TypeError` naming the bad option.
 */
export function checkRequireAuthOptions(options: RequireAuthOptions = {}): RequireAuthOptions {
  if (typeof options !== 'object' || options === null)
    throw new TypeError('requireAuth options must be an object.');
  if (options.realm !== undefined && typeof options.realm !== 'string') {
    throw new TypeError('requireAuth: realm must be a string.');
  }
  stepUpOptions('requireAuth', options);
  return options;
}

/** RFC 9470 §3: 401 `insufficient_user_authentication` with what the route requires. */
function stepUpRefusal(description: string, requirement: StepUpRequirement, realm: string): AuthRefusal {
  const body: AuthRefusal['body'] = {
    error: INSUFFICIENT_USER_AUTHENTICATION,
    error_description: description,
  };
  if (requirement.maxAgeSeconds !== undefined) body.max_age = requirement.maxAgeSeconds;
  if (requirement.acrValues?.length) body.acr_values = requirement.acrValues.join(' ');
  return {
    status: 401,
    headers: { 'www-authenticate': stepUpChallenge(realm, description, requirement) },
    body,
  };
}

/**
 * The whole check of a request, framework-free: reads `Authorization: Bearer` (RFC 6750 §2.1),
 * verifies the token, and answers the claims or the refusal to send (RFC 6750 §3.1: 401 without an
 * error code when no token was sent, 400 for a malformed header, 401 `invalid_token` for a bad,
 * expired, soft-expired or revoked token, 503 when revocations cannot be vouched for). A
 * DPoP-bound token (`cnf.jkt`) is refused: this verifier does not check DPoP proofs, and accepting
 * it as a Bearer token would undo the binding. With `maxAge` or `acr`, a valid token whose
 * authentication is too old (`auth_time`) or of another class (`acr`) gets RFC 9470's 401
 * `insufficient_user_authentication` with `max_age` / `acr_values`. Every framework adapter is a thin
 * wrapper over it.
 * @example
 * const outcome = await authenticateRequest(verifier, request);
 * if (outcome.refusal) return refusalResponse(outcome.refusal);
 * return Response.json({ hello: outcome.claims.sub });
 */
export async function authenticateRequest(
  verifier: Verifier,
  request: RequestParts,
  options: RequireAuthOptions = {},
): Promise<AuthOutcome> {
  const realm = options.realm ?? 'api';
  const header = authorizationOf(request.headers);
  if (header === false) return { refusal: headerRefusal('malformed', realm) };
  const parsed = parseAuthorization(header);
  if (parsed.kind === 'none' || parsed.scheme !== 'Bearer') return { refusal: headerRefusal('none', realm) };
  if (parsed.kind === 'malformed') return { refusal: headerRefusal('malformed', realm) };
  let claims: VerifiedClaims;
  try {
    claims = await verifier.verify(parsed.token);
    const cnf = claims.cnf as { jkt?: unknown } | undefined;
    if (cnf?.jkt !== undefined) {
      throw new VerifyError(
        'invalid_token',
        'The access token is bound to a DPoP key; this service takes Bearer tokens.',
      );
    }
  } catch (error) {
    return { refusal: refusalFor(error, realm) };
  }
  const requirement = stepUpOptions('requireAuth', options);
  const nowMs = typeof verifier.now === 'function' ? verifier.now() : Date.now();
  const problem = checkStepUp(claims, requirement, nowMs);
  return problem === null ? { claims } : { refusal: stepUpRefusal(problem, requirement, realm) };
}

/**
 * A web `Response` for a refusal: its status and headers, a JSON body and `Cache-Control: no-store`.
 * @example
 * if (outcome.refusal) return refusalResponse(outcome.refusal);
 */
export function refusalResponse(refusal: AuthRefusal): Response {
  return new Response(JSON.stringify(refusal.body), {
    status: refusal.status,
    headers: { ...refusal.headers, 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
}
