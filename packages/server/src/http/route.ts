import { type Authenticated, type Clock, type Engine, TesseraError, type TokenSet } from '@tessera/core';
import type { ClientIpResolver, TrustProxy } from './client-ip.ts';
import { json } from './error-response.ts';
import {
  accessCookie,
  type CookieSettings,
  refreshCookie,
  sessionCookie,
  type Transport,
  wantsAccessCookie,
} from './transport.ts';
import type { HeaderReader, HttpRequest, HttpResponse } from './types.ts';

/** One answered request, for metrics and logs (never its headers or body: they carry tokens). */
export interface ResponseInfo {
  method: string;
  /** The route's path pattern (`/auth/sessions/:id`), or `unmatched`. */
  route: string;
  status: number;
  durationMs: number;
}

/** Options of `createHandler`: what the routes need from their host (standalone server or a mount). */
export interface HandlerOptions {
  engine: Engine;
  /** Base path of the auth routes below the mount prefix. Default `/auth`. */
  authPath?: string;
  /** Base path of the OAuth routes below the mount prefix. Default `/oauth`. */
  oauthPath?: string;
  /** Base path of the admin API (service routes) below the mount prefix; `false` leaves it out. Default `/admin`. */
  adminPath?: string | false;
  /** Where the routes are mounted in the host app (e.g. `/api`). Default ''. */
  prefix?: string;
  /** The public base URL clients reach the server at (for RFC 8414 metadata). Default: the issuer's origin. */
  publicUrl?: string;
  /** Mark the refresh cookie `Secure`. Default true. */
  cookieSecure?: boolean;
  /** Origins allowed to use cookie transport and CORS. Default: the issuer's origin. */
  allowedOrigins?: readonly string[];
  /** Bearer token required of introspection, the revocation feed and metrics; `null`: loopback only. */
  serviceToken?: string | null;
  /**
   * Proxies trusted to write `X-Forwarded-For`: a hop count, a list of proxy addresses and CIDRs, or a
   * parsed {@link TrustProxy}. Default: none (the peer address is the client). Needs `serviceToken`.
   */
  trustProxy?: number | readonly string[] | TrustProxy;
  /**
   * `Host` values service routes answer (`name` or `name:port`). Default: the issuer's host, plus the
   * loopback names for a loopback issuer, checked when callers are trusted for being on loopback; an
   * explicit list is checked on every service request.
   */
  allowedHosts?: readonly string[];
  /** Open revocation streams allowed per client address and in total (past them: 429). Default 16 and 1,000. */
  revocationStreams?: { perCaller?: number; total?: number };
  /** More routes served by the same router (the standalone server adds `/metrics` and the demo page). */
  routes?: readonly Route[];
  /** Called once per answered request (metrics). */
  onResponse?: (info: ResponseInfo) => void;
  clock?: Clock;
  /** A clock that never jumps, for pruning the revocation feed. Default: `clock` when one is given, else a monotonic one. */
  steadyClock?: Clock;
}

/** @deprecated The old name of {@link HandlerOptions}. */
export type RoutesOptions = HandlerOptions;

/** Settings resolved once per handler. */
export interface ResolvedRoutes {
  engine: Engine;
  authPath: string;
  oauthPath: string;
  /** `null`: no admin API. */
  adminPath: string | null;
  prefix: string;
  publicUrl: string;
  cookie: CookieSettings;
  serviceToken: string | null;
  resolveIp: ClientIpResolver;
  /** Hosts service routes answer, and whether they are checked for token callers too (an explicit list). */
  allowedHosts: { hosts: readonly string[]; always: boolean };
  clock: Clock;
  /** The revocation feed's pruning clock; `null`: a monotonic one. */
  steadyClock: Clock | null;
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
  /** Path below the mount prefix, `:name` for a parameter (or below the server root with `root`). */
  path: string;
  /** The path is at the server root, whatever the mount prefix (RFC 8414 §3 metadata). */
  root?: boolean;
  /** `bearer`: an access token is required; `service`: the service token or loopback. */
  auth: 'none' | 'bearer' | 'service';
  /**
   * A sensitive bearer route (RFC 9470 step-up): the token's `auth_time` must be within the engine's
   * `reauthMaxAgeSeconds`, else 401 `insufficient_user_authentication` with the `max_age` challenge,
   * before the route runs.
   */
  recentAuth?: boolean;
  handle(ctx: RouteContext): Promise<HttpResponse>;
}

/**
 * Renders a token response (RFC 6749 §5.1 plus `session_id`). The refresh token (or, under
 * `expired-token-exchange`, the session handle) goes where `transport` says: an HttpOnly cookie or the body.
 * `extras` add fields (`issued_token_type` of RFC 8693 §2.2.1).
 * A cookie-transport request with `Tessera-Access-Cookie: 1` gets the access token as the HttpOnly
 * `tessera_access` cookie instead of in the body, so page script never holds it.
 */
export function tokenResponse(
  ctx: Pick<RouteContext, 'routes'> & { request: { headers: HeaderReader } },
  tokens: TokenSet,
  transport: Transport,
  status = 200,
  extras: Record<string, unknown> = {},
): HttpResponse {
  const inCookie = transport === 'cookie' && wantsAccessCookie(ctx.request.headers);
  const body: Record<string, unknown> = {
    token_type: tokens.tokenType,
    ...(inCookie ? {} : { access_token: tokens.accessToken }),
    expires_in: tokens.expiresIn,
    ...extras,
  };
  if (tokens.softExpiresIn !== null) body.soft_expires_in = tokens.softExpiresIn;
  const headers: Record<string, string | string[]> = {};
  const nowMs = ctx.routes.clock.now();
  const cookies: string[] = [];
  if (inCookie) cookies.push(accessCookie(ctx.routes.cookie.secure, tokens.accessToken, tokens.expiresIn));
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

/** The authentication of a bearer route's request; throws `invalid_token` if the route had none. */
export function bearerAuth(ctx: RouteContext): Authenticated {
  if (!ctx.auth) throw new TesseraError('invalid_token', 'An access token is required.');
  return ctx.auth;
}

/** The client info stored on a session. */
export function clientInfo(request: HttpRequest): { ip: string; userAgent: string | null } {
  return { ip: request.ip, userAgent: request.headers.get('user-agent') };
}
