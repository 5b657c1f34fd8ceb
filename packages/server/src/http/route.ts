import type { Authenticated, Clock, Engine, TokenSet } from '@tessera/core';
import type { Metrics } from '../metrics.ts';
import { json } from './error-response.ts';
import { type CookieSettings, refreshCookie, sessionCookie, type Transport } from './transport.ts';
import type { HttpRequest, HttpResponse } from './types.ts';

/** What the shared routes need from their host (standalone server or a framework mount). */
export interface RoutesOptions {
  engine: Engine;
  /** Base path of the auth routes below the mount prefix. Default `/auth`. */
  authPath?: string;
  /** Base path of the OAuth routes below the mount prefix. Default `/oauth`. */
  oauthPath?: string;
  /** Where the routes are mounted in the host app (e.g. `/api`). Default ''. */
  prefix?: string;
  /** The public base URL clients reach the mount at (for RFC 8414 metadata). Default: the issuer. */
  publicUrl?: string;
  /** Mark the refresh cookie `Secure`. Default true. */
  cookieSecure?: boolean;
  /** Origins allowed to use cookie transport and CORS. Default: the issuer's origin. */
  allowedOrigins?: readonly string[];
  /** Bearer token required of introspection, the revocation feed and metrics; `null`: loopback only. */
  serviceToken?: string | null;
  /** Serve the demo page at `/`. Default false. */
  demo?: boolean;
  metrics?: Metrics | null;
  clock?: Clock;
}

/** Settings resolved once per mount. */
export interface ResolvedRoutes {
  engine: Engine;
  authPath: string;
  oauthPath: string;
  prefix: string;
  publicUrl: string;
  cookie: CookieSettings;
  serviceToken: string | null;
  demo: boolean;
  metrics: Metrics | null;
  clock: Clock;
}

/** What a route handler receives. */
export interface RouteContext {
  request: HttpRequest;
  routes: ResolvedRoutes;
  params: Record<string, string>;
  /** Set for bearer routes. */
  auth: Authenticated | null;
}

/** One HTTP route, defined once for every host. */
export interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Path below the mount prefix, `:name` for a parameter. */
  path: string;
  /** `bearer`: an access token is required; `service`: the service token or loopback. */
  auth: 'none' | 'bearer' | 'service';
  handle(ctx: RouteContext): Promise<HttpResponse>;
}

/**
 * Renders a token response (RFC 6749 §5.1 plus `session_id`). The refresh token (or, under
 * `expired-token-exchange`, the session handle) goes where `transport` says: an HttpOnly cookie or the body.
 */
export function tokenResponse(
  ctx: RouteContext,
  tokens: TokenSet,
  transport: Transport,
  status = 200,
): HttpResponse {
  const body: Record<string, unknown> = {
    token_type: tokens.tokenType,
    access_token: tokens.accessToken,
    expires_in: tokens.expiresIn,
  };
  if (tokens.softExpiresIn !== null) body.soft_expires_in = tokens.softExpiresIn;
  const headers: Record<string, string | string[]> = {};
  const nowMs = ctx.routes.clock.now();
  const cookies: string[] = [];
  if (tokens.refreshToken !== null) {
    if (transport === 'body') body.refresh_token = tokens.refreshToken;
    else cookies.push(refreshCookie(ctx.routes.cookie, tokens.refreshToken, tokens.refreshExpiresAt, nowMs));
  }
  if (tokens.sessionHandle !== null) {
    if (transport === 'body') body.session_token = tokens.sessionHandle;
    else cookies.push(sessionCookie(ctx.routes.cookie, tokens.sessionHandle, tokens.refreshExpiresAt, nowMs));
  }
  if (cookies.length > 0) headers['set-cookie'] = cookies;
  body.session_id = tokens.sessionId;
  return json(status, body, headers);
}

/** The client info stored on a session. */
export function clientInfo(request: HttpRequest): { ip: string; userAgent: string | null } {
  return { ip: request.ip, userAgent: request.headers['user-agent'] ?? null };
}
