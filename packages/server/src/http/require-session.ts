import { type Authenticated, type Engine, isTesseraError, TesseraError } from '@tessera/core';
import {
  parseAuthorization,
  RENEWED_TOKEN_EXPIRES_HEADER,
  RENEWED_TOKEN_HEADER,
  type StepUpRequirement,
  stepUpOptions,
  TRANSPORT_HEADER,
} from '@tessera/protocol';
import { createClientIpResolver, type TrustProxy } from './client-ip.ts';
import { readPresentedAccessToken } from './dpop.ts';
import { errorResponse, missingTokenResponse } from './error-response.ts';
import { decorate } from './security-headers.ts';
import { ACCESS_COOKIE, accessCookie, readRefreshCookie } from './transport.ts';
import type { HeaderReader, HttpResponse } from './types.ts';
import { toResponse } from './web-io.ts';

/** An authenticated app request: the session, and the headers to add to the app's response. */
export interface SessionAuth extends Authenticated {
  /**
   * Under `sliding-single-token`, once the presented token is past half its life, the renewed token:
   * `Tessera-Access-Token` and `Tessera-Access-Token-Expires-In` (with `Cache-Control: no-store`) for a
   * token from the `Authorization` header, or a `Set-Cookie` renewing the `tessera_access` cookie for a
   * token from the cookie. Empty otherwise. Add them to the response (append `set-cookie`).
   */
  responseHeaders: Record<string, string>;
  /** Where the access token came from: the `Authorization` header, or the `tessera_access` cookie. */
  tokenSource: 'authorization' | 'cookie';
}

/** Options of `requireSession`. */
export interface RequireSessionOptions {
  /** Proxies trusted to write `X-Forwarded-For` (for the address a renewal records). Default: none. */
  trustProxy?: TrustProxy;
  /**
   * Origins whose requests may use the `tessera_access` cookie with an unsafe method (POST, PUT, PATCH,
   * DELETE, …): give the same list as the handler's `allowedOrigins`. Default: the issuer's origin.
   */
  allowedOrigins?: readonly string[];
  /** Mark a renewed `tessera_access` cookie `Secure` (as the handler's `cookieSecure`). Default true. */
  cookieSecure?: boolean;
  /**
   * No token, or a bad, expired or revoked one, is not refused: the request goes on without a session
   * (`null` from the web guard; no `auth` in the frameworks), so a page can render signed out or
   * redirect. A malformed `Authorization` header (400) and a failed CSRF check (403) are still refused.
   * Default false.
   */
  optional?: boolean;
  /**
   * RFC 9470 step-up for a sensitive route of the app: the most seconds since the user last
   * authenticated (the token's `auth_time`), e.g. `engine.settings.reauthMaxAgeSeconds`. An older
   * authentication gets 401 `insufficient_user_authentication` with `max_age`. Default: no limit.
   */
  maxAge?: number;
  /** RFC 9470: the acceptable `acr` values (`'1'` one factor, `'2'` two), one or a list. Default: any. */
  acr?: string | readonly string[];
  /**
   * The origin clients reach the app at (behind a proxy: the public one), for the `htu` of DPoP proofs
   * (RFC 9449 §4.3): the proof must name this origin plus the request's path. Default: the issuer's origin.
   */
  publicUrl?: string;
}

/** The parts of a request the guard reads. */
export interface GuardedRequest {
  /** Upper case. */
  method: string;
  headers: HeaderReader;
  /** The client address (for the session's record of a renewal). */
  ip: string;
  /** The request path as the client addressed it, without the query (for DPoP's `htu`). Default `/`. */
  path?: string;
}

/** The guard's settings, resolved once per `requireSession`. */
export interface GuardSettings {
  allowedOrigins: readonly string[];
  cookieSecure: boolean;
  optional: boolean;
  /** The step-up requirement (RFC 9470); empty: none. */
  requirement: StepUpRequirement;
  /** The public origin DPoP proofs name (no trailing slash). */
  publicUrl: string;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Resolves `requireSession`'s options against the engine's issuer; a bad step-up option is a
 * `TypeError` when the guard is made, not a refusal at request time.
 */
export function guardSettings(engine: Engine, options: RequireSessionOptions): GuardSettings {
  return {
    allowedOrigins: options.allowedOrigins ?? [new URL(engine.settings.issuer).origin],
    cookieSecure: options.cookieSecure ?? true,
    optional: options.optional ?? false,
    requirement: stepUpOptions('requireSession', options),
    publicUrl: (options.publicUrl ?? new URL(engine.settings.issuer).origin).replace(/\/+$/, ''),
  };
}

/**
 * CSRF for an unsafe request that authenticates with the access cookie (the refresh cookie's rule,
 * adapted to forms): an `Origin`, when the browser sends one, must be allowed (a same-origin form post
 * carries it; a cross-site one carries its own); without an `Origin`, `Tessera-Transport: cookie` must be
 * present, which a form cannot send and a cross-origin script cannot without passing CORS.
 */
function assertCookieCsrf(headers: HeaderReader, settings: GuardSettings): void {
  const origin = headers.get('origin');
  if (origin !== null) {
    if (!settings.allowedOrigins.includes(origin)) {
      throw new TesseraError(
        'forbidden_origin',
        'A request that uses the access cookie must come from an allowed origin.',
      );
    }
    return;
  }
  if (headers.get(TRANSPORT_HEADER)?.trim().toLowerCase() !== 'cookie') {
    throw new TesseraError(
      'csrf_header_required',
      'A request that uses the access cookie without an Origin must send Tessera-Transport: cookie.',
    );
  }
}

/**
 * The core every framework's `requireSession` wraps: authenticates the access token of a request with
 * the engine (the `Authorization` header first, else the `tessera_access` cookie, whose unsafe requests
 * must pass the CSRF check), checks the step-up requirement (RFC 9470: 401
 * `insufficient_user_authentication` with `max_age` / `acr_values`) and renews it under
 * `sliding-single-token`. Resolves to the session, or to
 * the refusal to send instead (RFC 6750: 401 with `WWW-Authenticate`, 400 for a malformed header; 403
 * `forbidden_origin` / `csrf_header_required` for a cookie request that fails the CSRF check), security
 * headers included; with `optional`, `null` instead of a 401.
 */
export async function guardRequest(
  engine: Engine,
  request: GuardedRequest,
  settings: GuardSettings,
): Promise<SessionAuth | HttpResponse | null> {
  const { headers } = request;
  let auth: Authenticated;
  let tokenSource: SessionAuth['tokenSource'] = 'authorization';
  try {
    // `Authorization: Bearer`, or `DPoP` with a proof for this request (RFC 9449 §7).
    const presented = await readPresentedAccessToken(
      engine,
      headers,
      request.method,
      `${settings.publicUrl}${request.path ?? '/'}`,
    );
    let token = presented?.token;
    if (token === undefined) {
      const cookie = readRefreshCookie(headers, ACCESS_COOKIE);
      if (!cookie) return settings.optional ? null : decorate(missingTokenResponse(), null, []);
      if (!SAFE_METHODS.has(request.method)) assertCookieCsrf(headers, settings);
      token = cookie;
      tokenSource = 'cookie';
    }
    auth = await engine.authenticate(token, { dpopJkt: presented?.dpopJkt ?? null });
    const { requirement } = settings;
    if (requirement.maxAgeSeconds !== undefined || requirement.acrValues?.length) {
      // The engine's clock and error, so app routes answer exactly as Tessera's own sensitive routes.
      engine.assertRecentAuthentication(auth, {
        maxAgeSeconds: requirement.maxAgeSeconds ?? null,
        acrValues: requirement.acrValues,
      });
    }
  } catch (error) {
    // `optional` forgives a missing or dead session, never a session too old for the route (RFC 9470).
    if (settings.optional && isTesseraError(error) && error.code === 'invalid_token') return null;
    const scheme = parseAuthorization(headers.get('authorization'));
    return decorate(
      errorResponse(error, { bearer: true, dpop: scheme.kind !== 'none' && scheme.scheme === 'DPoP' }),
      null,
      [],
    );
  }
  const renewed = await engine.slide(auth, { ip: request.ip, userAgent: headers.get('user-agent') });
  let responseHeaders: Record<string, string> = {};
  if (renewed && tokenSource === 'cookie') {
    // The token never reaches page script: a cookie came in, a cookie goes out.
    responseHeaders = {
      'set-cookie': accessCookie(settings.cookieSecure, renewed.accessToken, renewed.expiresIn),
      'cache-control': 'no-store',
    };
  } else if (renewed) {
    responseHeaders = {
      [RENEWED_TOKEN_HEADER]: renewed.accessToken,
      [RENEWED_TOKEN_EXPIRES_HEADER]: String(renewed.expiresIn),
      'cache-control': 'no-store',
    };
  }
  return { ...auth, responseHeaders, tokenSource };
}

/** True when a guard result is a refusal rather than a session (or, with `optional`, none). */
export function isRefusal(result: SessionAuth | HttpResponse | null): result is HttpResponse {
  return result !== null && 'status' in result;
}

/** The web-standard guard `requireSession` returns: the session, or the response to send instead. */
export type SessionGuard = (request: Request, info?: { ip?: string }) => Promise<SessionAuth | Response>;

/** The guard `requireSession(engine, { optional: true })` returns: also `null` when there is no session. */
export type OptionalSessionGuard = (
  request: Request,
  info?: { ip?: string },
) => Promise<SessionAuth | Response | null>;

/**
 * A web-standard session guard for the app's own routes: `(request) => SessionAuth | Response`.
 * It reads the access token from `Authorization: Bearer` first, else from the `tessera_access` cookie
 * (set by the token routes for `Tessera-Access-Cookie: 1`); a cookie request with an unsafe method must
 * come from an allowed `Origin` (or, without one, carry `Tessera-Transport: cookie`). With
 * `optional: true` a request without a valid token resolves to `null` instead of a 401. Framework
 * subpaths wrap it; Next.js route handlers and any `fetch` host use it as is.
 * @example
 * const session = requireSession(engine);
 * export async function GET(request: Request) {
 *   const auth = await session(request);
 *   if (auth instanceof Response) return auth;
 *   return Response.json({ sub: auth.claims.sub }, { headers: auth.responseHeaders });
 * }
 */
export function requireSession(
  engine: Engine,
  options: RequireSessionOptions & { optional: true },
): OptionalSessionGuard;
export function requireSession(engine: Engine, options?: RequireSessionOptions): SessionGuard;
export function requireSession(engine: Engine, options: RequireSessionOptions = {}): OptionalSessionGuard {
  const resolveIp = createClientIpResolver(options.trustProxy ?? null);
  const settings = guardSettings(engine, options);
  return async (request, info = {}) => {
    const ip = resolveIp(info.ip ?? '', request.headers.get('x-forwarded-for'));
    const method = request.method.toUpperCase();
    const path = new URL(request.url).pathname;
    const result = await guardRequest(engine, { method, headers: request.headers, ip, path }, settings);
    return isRefusal(result) ? toResponse(result, method === 'HEAD') : result;
  };
}
