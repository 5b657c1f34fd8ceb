import { type Authenticated, type Engine, TesseraError } from '@tessera/core';
import { DPOP_HEADER, parseAuthorization } from '@tessera/protocol';
import type { ResolvedRoutes } from './route.ts';
import type { HeaderReader, HttpRequest } from './types.ts';

/**
 * The URL a client addressed, for a proof's `htu` (RFC 9449 §4.3): the server's public URL (`publicUrl`,
 * by default the issuer's origin) plus the mount prefix and the route's path, never the address the
 * request reached this process at, so a TLS-terminating proxy or a rewritten `Host` changes nothing.
 */
export function publicRequestUrl(
  routes: Pick<ResolvedRoutes, 'publicUrl' | 'prefix'>,
  request: HttpRequest,
): string {
  return `${routes.publicUrl}${routes.prefix}${request.path}`;
}

/**
 * The DPoP key thumbprint of a token request (sign-in, refresh, token exchange): the request's proof
 * checked by the engine, or `null` without one. Throws `invalid_dpop_proof` (also for no proof under
 * `dpop: 'required'`) or `use_dpop_nonce`.
 */
export function tokenRequestDpopJkt(routes: ResolvedRoutes, request: HttpRequest): Promise<string | null> {
  return routes.engine.verifyDpopProof({
    proof: request.headers.get(DPOP_HEADER),
    method: request.method,
    url: publicRequestUrl(routes, request),
  });
}

/** An access token a request presents (RFC 6750 §2.1 or RFC 9449 §7.1), with its scheme. */
export interface PresentedAccessToken {
  token: string;
  scheme: 'Bearer' | 'DPoP';
  /** `DPoP` scheme: the thumbprint of the request's proof, checked with this token's `ath`. */
  dpopJkt: string | null;
}

/**
 * Reads `Authorization: Bearer` or `Authorization: DPoP` and, for DPoP, checks the request's proof with
 * the token (`ath`). `null` when the request carries no access token. Throws `invalid_request` for a
 * malformed header, `invalid_dpop_proof` for `DPoP` without a valid proof, `use_dpop_nonce`.
 */
export function presentedAccessToken(
  routes: ResolvedRoutes,
  request: HttpRequest,
): Promise<PresentedAccessToken | null> {
  return readPresentedAccessToken(
    routes.engine,
    request.headers,
    request.method,
    publicRequestUrl(routes, request),
  );
}

/**
 * {@link presentedAccessToken} for any caller that knows the request's public `url` (the app's own
 * routes behind `requireSession`).
 */
export async function readPresentedAccessToken(
  engine: Engine,
  headers: HeaderReader,
  method: string,
  url: string,
): Promise<PresentedAccessToken | null> {
  const parsed = parseAuthorization(headers.get('authorization'));
  if (parsed.kind === 'none') return null;
  if (parsed.kind === 'malformed') {
    throw new TesseraError(
      'invalid_request',
      `The Authorization header is not a valid ${parsed.scheme} token.`,
    );
  }
  if (parsed.scheme === 'Bearer') return { token: parsed.token, scheme: 'Bearer', dpopJkt: null };
  if (engine.settings.dpop === 'off') {
    throw new TesseraError('invalid_token', 'This server does not accept DPoP; send the token as Bearer.');
  }
  const dpopJkt = await engine.verifyDpopProof({
    proof: headers.get(DPOP_HEADER),
    method,
    url,
    accessToken: parsed.token,
  });
  if (dpopJkt === null) {
    throw new TesseraError('invalid_dpop_proof', 'Authorization: DPoP needs a DPoP proof header.');
  }
  return { token: parsed.token, scheme: 'DPoP', dpopJkt };
}

/**
 * Authenticates a bearer route's request in either scheme: `null` when it carries no access token.
 * A DPoP-bound token presented as Bearer is refused (`invalid_token`). Throws what
 * {@link presentedAccessToken} and `engine.authenticate` throw.
 */
export async function authenticateRequest(
  routes: ResolvedRoutes,
  request: HttpRequest,
): Promise<Authenticated | null> {
  const presented = await presentedAccessToken(routes, request);
  if (presented === null) return null;
  return routes.engine.authenticate(presented.token, { dpopJkt: presented.dpopJkt });
}
