import {
  type AuthorizationScheme,
  challenge,
  checkStepUp,
  DPOP_SIGNING_ALGS,
  INSUFFICIENT_USER_AUTHENTICATION,
  parseAuthorization,
  type StepUpRequirement,
  stepUpChallenge,
  stepUpOptions,
} from '@tessera/protocol';
import type { VerifiedClaims, Verifier } from './create-verifier.ts';
import type { DpopRequestParts } from './dpop-proof.ts';
import { VerifyError } from './errors.ts';
import type { HeaderSource } from './request-url.ts';

export type { HeaderSource } from './request-url.ts';

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

/**
 * The part of a request the check reads: a web `Request`, or a Node framework's request (Express,
 * Fastify, Node's `IncomingMessage`). Headers always; the method and URL for a DPoP proof's `htm` and
 * `htu` (RFC 9449 §4.3).
 */
export interface RequestParts extends DpopRequestParts {
  headers: HeaderSource;
}

const DPOP_ALGS = DPOP_SIGNING_ALGS.join(' ');

/**
 * A challenge in the scheme the client used: RFC 6750 §3 for Bearer, RFC 9449 §7.1 for DPoP (which
 * also lists the proof algorithms this service accepts).
 */
function schemeChallenge(
  scheme: AuthorizationScheme,
  realm: string,
  error?: string,
  description?: string,
): string {
  return challenge(scheme, {
    realm,
    error,
    error_description: description,
    algs: scheme === 'DPoP' ? DPOP_ALGS : undefined,
  });
}

/** The `Authorization` header, or `false` when it was sent more than once (never one credential). */
function authorizationOf(headers: HeaderSource): string | undefined | null | false {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get('authorization');
  const value = (headers as Record<string, string | readonly string[] | undefined>).authorization;
  return Array.isArray(value) ? false : (value as string | undefined);
}

/**
 * The answer for a request whose `Authorization` header was rejected before verification: 401 with
 * bare challenges when there is no token (RFC 6750 §3.1 for Bearer, RFC 9449 §7.1 for DPoP with its
 * `algs`: both schemes are taken), 400 `invalid_request` when the header is malformed.
 */
function headerRefusal(
  kind: 'none' | 'malformed',
  realm: string,
  scheme: AuthorizationScheme = 'Bearer',
): AuthRefusal {
  if (kind === 'none') {
    return {
      status: 401,
      headers: {
        'www-authenticate': `${challenge('Bearer', { realm })}, ${schemeChallenge('DPoP', realm)}`,
      },
      body: { error_description: 'This route needs an access token.' },
    };
  }
  return {
    status: 400,
    headers: {
      'www-authenticate': schemeChallenge(scheme, realm, 'invalid_request', 'Malformed Authorization header'),
    },
    body: {
      error: 'invalid_request',
      error_description: `The Authorization header is not a valid ${scheme} token.`,
    },
  };
}

/**
 * The answer for a refused token: 401 `invalid_token` or (RFC 9449 §7.1) `invalid_dpop_proof` with
 * the reason, in a challenge of the scheme the token came in (`Bearer`, or `DPoP` with `algs`), or
 * 503 `temporarily_unavailable` (with `Retry-After`) when the verifier cannot vouch for tokens now.
 */
export function refusalFor(
  error: unknown,
  realm = 'api',
  scheme: AuthorizationScheme = 'Bearer',
): AuthRefusal {
  const e =
    error instanceof VerifyError ? error : new VerifyError('invalid_token', 'The access token is invalid.');
  if (e.code === 'temporarily_unavailable') {
    return {
      status: 503,
      headers: { 'retry-after': '5' },
      body: { error: 'temporarily_unavailable', error_description: e.description },
    };
  }
  const dpop = scheme === 'DPoP' || e.code === 'invalid_dpop_proof';
  return {
    status: 401,
    headers: { 'www-authenticate': schemeChallenge(dpop ? 'DPoP' : 'Bearer', realm, e.code, e.description) },
    body: { error: e.code, error_description: e.description },
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
 * The whole check of a request, framework-free: reads `Authorization: Bearer` (RFC 6750 §2.1) or
 * `Authorization: DPoP` with its `DPoP` proof (RFC 9449 §7.1), verifies the token (and the proof,
 * against the request's method and URL: {@link Verifier.verifyDpop}), and answers the claims or the
 * refusal to send (RFC 6750 §3.1: 401 without an error code when no token was sent, 400 for a
 * malformed header, 401 `invalid_token` for a bad, expired, soft-expired or revoked token,
 * 401 `invalid_dpop_proof` for a missing or wrong proof, 503 when revocations cannot be vouched for).
 * A DPoP-bound token (`cnf.jkt`) presented as Bearer is refused: accepting it would undo the binding.
 * With `maxAge` or `acr`, a valid token whose
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
  if (parsed.kind === 'none') return { refusal: headerRefusal('none', realm) };
  if (parsed.kind === 'malformed') return { refusal: headerRefusal('malformed', realm, parsed.scheme) };
  let claims: VerifiedClaims;
  try {
    if (parsed.scheme === 'DPoP') {
      if (typeof verifier.verifyDpop !== 'function')
        throw new VerifyError('invalid_token', 'This service does not take DPoP tokens.');
      claims = await verifier.verifyDpop(parsed.token, request);
    } else {
      claims = await verifier.verify(parsed.token);
      const cnf = claims.cnf as { jkt?: unknown } | undefined;
      if (cnf?.jkt !== undefined) {
        // RFC 9449 §7.2: a bound token sent as Bearer is refused, in the DPoP scheme it needs.
        return {
          refusal: refusalFor(
            new VerifyError(
              'invalid_token',
              'The access token is bound to a DPoP key; send it as Authorization: DPoP with a proof.',
            ),
            realm,
            'DPoP',
          ),
        };
      }
    }
  } catch (error) {
    return { refusal: refusalFor(error, realm, parsed.scheme) };
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
