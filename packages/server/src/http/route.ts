import type { Authenticated, Clock, Engine, TokenSet } from '@tessera/core';
import type { Metrics } from '../metrics.ts';
import { json } from './error-response.ts';
import { type CookieSettings, refreshCookie, type Transport } from './transport.ts';
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

/** Renders a token response (RFC 6749 §5.1 plus `session_id`); the refresh token goes where `transport` says. */
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
  const headers: Record<string, string | string[]> = {};
  if (transport === 'body') {
    body.refresh_token = tokens.refreshToken;
  } else {
    headers['set-cookie'] = refreshCookie(
      ctx.routes.cookie,
      tokens.refreshToken,
      tokens.refreshExpiresAt,
      ctx.routes.clock.now(),
    );
  }
  body.session_id = tokens.sessionId;
  return json(status, body, headers);
}

/** The client info stored on a session. */
export function clientInfo(request: HttpRequest): { ip: string; userAgent: string | null } {
  return { ip: request.ip, userAgent: request.headers['user-agent'] ?? null };
}
