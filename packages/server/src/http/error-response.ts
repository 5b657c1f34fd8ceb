import { isTesseraError, type TesseraError } from '@tessera/core';
import {
  challenge,
  DPOP_NONCE_HEADER,
  type DpopErrorCode,
  dpopChallenge,
  type StepUpRequirement,
  stepUpChallenge,
} from '@tessera/protocol';
import type { HttpResponse } from './types.ts';

/** How a route wants failures rendered. */
export interface ErrorStyle {
  /** Bearer-protected route: add `WWW-Authenticate` per RFC 6750 §3. */
  bearer?: boolean;
  /** The request presented its token as `Authorization: DPoP`: challenges are DPoP's (RFC 9449 §7.1). */
  dpop?: boolean;
}

const REALM = 'tessera';

/**
 * The one place errors become HTTP. A {@link TesseraError} becomes its status with
 * `{ error, error_description }` (RFC 6749 §5.2 shape on every route); anything else is a
 * 500 `server_error` with no detail. Bearer failures carry `WWW-Authenticate` (RFC 6750 §3.1; RFC 9470
 * §3 for `insufficient_user_authentication`, with `max_age` and `acr_values` in the body too; RFC 9449
 * §7.1 `DPoP` challenges for DPoP requests and proof failures, 401 on bearer routes, 400 on token
 * routes, with `DPoP-Nonce` for `use_dpop_nonce`), built
 * only by `@tessera/protocol`'s `challenge`, so no client input can break the header.
 */
export function errorResponse(error: unknown, style: ErrorStyle = {}): HttpResponse {
  if (!isTesseraError(error)) {
    return json(500, {
      error: 'server_error',
      error_description: 'The server failed to handle this request.',
    });
  }
  const e = error as TesseraError;
  const body: Record<string, unknown> = { error: e.code, error_description: e.message };
  if (e.field !== undefined) body.field = e.field;
  if (e.sessionEnded !== undefined) body.session_ended = e.sessionEnded;
  const requirement = stepUpRequirement(e);
  // In the body too, so a caller that cannot read the header (a page on another origin) still knows.
  if (requirement.maxAgeSeconds !== undefined) body.max_age = requirement.maxAgeSeconds;
  if (requirement.acrValues?.length) body.acr_values = requirement.acrValues.join(' ');
  const dpopError = e.code === 'invalid_dpop_proof' || e.code === 'use_dpop_nonce';
  // RFC 9449 §7.1: at a resource a proof failure is a 401 challenge; at the token endpoint (§5) a 400.
  const response = json(style.bearer && dpopError ? 401 : e.status, body);
  if (e.retryAfterSeconds !== undefined) response.headers['retry-after'] = String(e.retryAfterSeconds);
  if (e.code === 'invalid_token' || (style.bearer && e.code === 'invalid_request')) {
    response.headers['www-authenticate'] = style.dpop
      ? dpopChallenge(e.code, e.message)
      : challenge('Bearer', { realm: REALM, error: e.code, error_description: e.message });
  }
  if (style.bearer && dpopError) {
    response.headers['www-authenticate'] = dpopChallenge(e.code as DpopErrorCode, e.message);
  }
  const nonce = (e as { nonce?: unknown }).nonce;
  if (e.code === 'use_dpop_nonce' && typeof nonce === 'string' && nonce)
    response.headers[DPOP_NONCE_HEADER] = nonce;
  if (e.code === 'insufficient_user_authentication') {
    response.headers['www-authenticate'] = stepUpChallenge(REALM, e.message, requirement);
  }
  if (e.code === 'invalid_client')
    response.headers['www-authenticate'] = challenge('Bearer', { realm: REALM });
  return response;
}

/** What an `insufficient_user_authentication` error says the operation requires (RFC 9470 §3). */
function stepUpRequirement(error: TesseraError): StepUpRequirement {
  if (error.code !== 'insufficient_user_authentication') return {};
  const { maxAgeSeconds, acrValues } = error as { maxAgeSeconds?: unknown; acrValues?: unknown };
  return {
    maxAgeSeconds: typeof maxAgeSeconds === 'number' ? maxAgeSeconds : undefined,
    acrValues: Array.isArray(acrValues) ? acrValues.filter((v) => typeof v === 'string') : undefined,
  };
}

/** A 401 challenge for a request that carried no bearer token (RFC 6750 §3.1: no error code). */
export function missingTokenResponse(): HttpResponse {
  const response = json(401, {
    error_description: 'This route needs an access token: send Authorization: Bearer <token>.',
  });
  response.headers['www-authenticate'] = challenge('Bearer', { realm: REALM });
  return response;
}

/** A JSON response that must never be cached. */
export function json(
  status: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): HttpResponse {
  return {
    status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      pragma: 'no-cache',
      ...headers,
    },
    body: JSON.stringify(body),
  };
}

/** An empty response (204 by default). */
export function empty(status = 204, headers: Record<string, string | string[]> = {}): HttpResponse {
  return { status, headers: { 'cache-control': 'no-store', ...headers } };
}
