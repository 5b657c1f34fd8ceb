import { TesseraError } from '@tessera/core';
import {
  DPOP_HEADER,
  DPOP_NONCE_HEADER,
  parseAuthorization,
  RENEWED_TOKEN_EXPIRES_HEADER,
  RENEWED_TOKEN_HEADER,
  TRANSPORT_HEADER,
} from '@tessera/protocol';
import { authenticateRequest } from './http/dpop.ts';
import { empty, errorResponse, missingTokenResponse } from './http/error-response.ts';
import { type HostRequestInfo, type Incoming, MALFORMED_PATH } from './http/incoming.ts';
import type { HandlerOptions, ResolvedRoutes, Route } from './http/route.ts';
import { createRouter, type RouteMatch } from './http/router.ts';
import { corsHeaders, decorate } from './http/security-headers.ts';
import { checkServiceCaller } from './http/service-caller.ts';
import { resolveSettings } from './http/settings.ts';
import { ACCESS_COOKIE_HEADER, chooseTransport, wantsAccessCookie } from './http/transport.ts';
import type { HeaderReader, HttpRequest, HttpResponse } from './http/types.ts';
import { fromRequest, toResponse } from './http/web-io.ts';
import { accountLifecycleRoutes } from './routes/account-lifecycle-routes.ts';
import { accountRoutes } from './routes/account-routes.ts';
import { adminRoutes } from './routes/admin-routes.ts';
import { authRoutes } from './routes/auth-routes.ts';
import { discoveryRoutes } from './routes/discovery-routes.ts';
import { externalLoginRoutes } from './routes/external-login-routes.ts';
import { mfaRoutes } from './routes/mfa-routes.ts';
import { oauthRoutes } from './routes/oauth-routes.ts';
import { opsRoutes } from './routes/ops-routes.ts';
import { policyRoutes } from './routes/policy-routes.ts';
import { revocationRoutes } from './routes/revocation-routes.ts';
import { stepUpRoutes } from './routes/step-up-routes.ts';
import { webhookAdminRoutes } from './routes/webhook-admin-routes.ts';

/**
 * Tessera's HTTP layer as one web-standard function: give it a `Request`, get a `Response`. Every
 * host (the standalone server, Node `http`, Express, Koa, Fastify, Hono, Next.js) is a thin adapter
 * over it.
 */
export interface TesseraHandler {
  (request: Request, info?: HostRequestInfo): Promise<Response>;
  /** Like calling the handler, but resolves to `null` when no Tessera route is at the path (hosts with a `next`). */
  tryHandle(request: Request, info?: HostRequestInfo): Promise<Response | null>;
  /** The mount prefix ('' or e.g. `/api`). */
  readonly prefix: string;
  /** Every route behind the router, as registered: paths below `prefix` unless `root` (tests and tools list them). */
  readonly routes: readonly Route[];
  readonly settings: ResolvedRoutes;
  /** True once {@link close} was called: requests are then answered 503 `service_unavailable`. */
  readonly closed: boolean;
  /** Ends open revocation streams and stops the feed; later requests get 503 (call it when shutting down). */
  close(): void;
}

/** What the in-package hosts use besides the public call (never exported from the package). */
export interface HandlerInternals {
  /** Routes and answers a request; `null` (with `passThrough`) when no route is at its path. */
  respond(incoming: Incoming, passThrough: boolean): Promise<HttpResponse | null>;
  /** The error response for a request a host refused before routing, with the security and CORS headers. */
  reject(headers: HeaderReader | null, error: unknown): HttpResponse;
}

const internals = new WeakMap<TesseraHandler, HandlerInternals>();

/** The internals of a handler made by {@link createHandler} (for the package's own hosts). */
export function handlerInternals(handler: TesseraHandler): HandlerInternals {
  const found = internals.get(handler);
  if (!found) throw new TypeError('Not a handler made by createHandler().');
  return found;
}

/** True when the request's `Authorization` uses the DPoP scheme (its refusals then challenge with DPoP). */
function presentsDpop(request: HttpRequest): boolean {
  const parsed = parseAuthorization(request.headers.get('authorization'));
  return parsed.kind !== 'none' && parsed.scheme === 'DPoP';
}

const SHUTTING_DOWN = (): TesseraError =>
  new TesseraError('service_unavailable', 'The server is shutting down; retry shortly.', {
    retryAfterSeconds: 1,
  });

/**
 * Creates Tessera's HTTP handler: every route once behind one router, the 16 KB body limit,
 * transports, CSRF and CORS rules, bearer and service authentication, the error mapping, and the
 * security headers on every response (404, 405, 413 and 503 included). The revocation stream is a
 * streamed `Response`. Throws a `TypeError` for contradictory options (`trustProxy` without `serviceToken`).
 * @example
 * const handler = createHandler({ engine, prefix: '/api' });
 * const response = await handler(new Request('http://localhost/api/.well-known/jwks.json'));
 */
export function createHandler(options: HandlerOptions): TesseraHandler {
  const settings = resolveSettings(options);
  const issuer = options.engine.settings.issuer;
  const streams = options.revocationStreams ?? {};
  const revocations = revocationRoutes(settings.authPath, {
    perCaller: streams.perCaller ?? 16,
    total: streams.total ?? 1000,
  });
  const routes: Route[] = [
    ...authRoutes(settings.authPath),
    ...accountRoutes(settings.authPath),
    ...mfaRoutes(settings.authPath),
    ...stepUpRoutes(settings.authPath),
    // The one-time-token flows exist only where a token can reach its user (a webhook target).
    ...(options.engine.settings.deliversWebhooks ? accountLifecycleRoutes(settings.authPath) : []),
    ...webhookAdminRoutes(),
    ...revocations.routes,
    ...policyRoutes(settings.authPath),
    ...oauthRoutes(settings.oauthPath),
    ...discoveryRoutes(settings.authPath, settings.oauthPath, issuer, settings.prefix),
    ...opsRoutes(),
    ...externalLoginRoutes(settings.authPath),
    ...(settings.adminPath === null ? [] : adminRoutes(settings.adminPath)),
    ...(options.routes ?? []),
  ];
  const router = createRouter(routes, settings.prefix);
  const sliding = settings.engine.settings.renewal === 'sliding';
  let closed = false;

  async function dispatch(incoming: Incoming, match: RouteMatch): Promise<HttpResponse> {
    const allowed = (): string => [...new Set(match.routes.map((r) => r.method))].join(', ');
    if (incoming.method === 'OPTIONS') {
      const cors = corsHeaders(incoming.headers, settings.cookie.allowedOrigins);
      if (!cors['access-control-allow-origin']) {
        return errorResponse(new TesseraError('forbidden_origin', 'This origin is not allowed.'));
      }
      return empty(204, {
        ...cors,
        'access-control-allow-methods': allowed(),
        'access-control-allow-headers': `Authorization, Content-Type, ${TRANSPORT_HEADER}, ${ACCESS_COOKIE_HEADER}, DPoP`,
        'access-control-max-age': '600',
      });
    }
    const method = incoming.method === 'HEAD' ? 'GET' : incoming.method;
    const route = match.routes.find((r) => r.method === method);
    if (!route) {
      const response = errorResponse(
        new TesseraError('method_not_allowed', 'This method is not allowed here.'),
      );
      response.headers.allow = allowed();
      return response;
    }
    if (closed) return errorResponse(SHUTTING_DOWN());
    const forwardedFor = incoming.headers.get('x-forwarded-for');
    let query: URLSearchParams | undefined;
    const request: HttpRequest = {
      method: incoming.method,
      path: match.path,
      get query() {
        query ??= new URLSearchParams(incoming.search);
        return query;
      },
      headers: incoming.headers,
      ip: settings.resolveIp(incoming.peer, forwardedFor),
      body: { kind: 'none' },
    };
    const response = await answer(route, request, incoming, match);
    // RFC 9449 §8.2: with nonces on, any answer to a request with a proof names the current nonce.
    if (settings.engine.settings.dpopNonce && request.headers.get(DPOP_HEADER) !== null) {
      response.headers[DPOP_NONCE_HEADER] ??= settings.engine.dpopNonce() ?? '';
    }
    return response;
  }

  async function answer(
    route: Route,
    request: HttpRequest,
    incoming: Incoming,
    match: RouteMatch,
  ): Promise<HttpResponse> {
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    try {
      if (method !== 'GET') request.body = await incoming.readBody();
      // Check the transport headers before any route acts, so a bad one changes nothing.
      chooseTransport(request.headers);
      wantsAccessCookie(request.headers);
      let auth = null;
      if (route.auth === 'bearer') {
        auth = await authenticateRequest(settings, request);
        if (auth === null) return missingTokenResponse();
        if (route.recentAuth) settings.engine.assertRecentAuthentication(auth);
      } else if (route.auth === 'service') {
        const refusal = checkServiceCaller(request, incoming.headers.get('host'), settings);
        if (refusal) return refusal;
      }
      const response = await route.handle({ request, routes: settings, params: match.params, auth });
      if (auth && sliding && response.status < 400) {
        const renewed = await settings.engine.slide(auth, {
          ip: request.ip,
          userAgent: request.headers.get('user-agent'),
        });
        if (renewed) {
          response.headers[RENEWED_TOKEN_HEADER] = renewed.accessToken;
          response.headers[RENEWED_TOKEN_EXPIRES_HEADER] = String(renewed.expiresIn);
          response.headers['cache-control'] = 'no-store';
        }
      }
      return response;
    } catch (error) {
      return errorResponse(error, {
        bearer: route.auth === 'bearer',
        dpop: presentsDpop(request),
      });
    }
  }

  async function respond(incoming: Incoming, passThrough: boolean): Promise<HttpResponse | null> {
    const started = performance.now();
    let label = 'unmatched';
    let response: HttpResponse;
    try {
      if (incoming.pathname === MALFORMED_PATH) {
        if (passThrough) return null;
        throw new TesseraError('invalid_request', 'The request URL is malformed.');
      }
      const match = router.match(incoming.pathname);
      if (match === null) {
        if (passThrough) return null;
        response = errorResponse(closed ? SHUTTING_DOWN() : new TesseraError('not_found', 'No such route.'));
      } else {
        label = match.label;
        response = await dispatch(incoming, match);
      }
    } catch (error) {
      response = errorResponse(error);
    }
    decorate(
      response,
      incoming.method === 'OPTIONS' ? null : incoming.headers,
      settings.cookie.allowedOrigins,
    );
    try {
      options.onResponse?.({
        method: incoming.method,
        route: label,
        status: response.status,
        durationMs: performance.now() - started,
      });
    } catch {
      // Metrics must never fail a request.
    }
    return response;
  }

  const handler = async (request: Request, info?: HostRequestInfo): Promise<Response> =>
    toResponse((await respond(fromRequest(request, info), false)) as HttpResponse, request.method === 'HEAD');
  const tryHandle = async (request: Request, info?: HostRequestInfo): Promise<Response | null> => {
    const response = await respond(fromRequest(request, info), true);
    return response === null ? null : toResponse(response, request.method === 'HEAD');
  };
  const close = (): void => {
    closed = true;
    revocations.close();
  };
  const tesseraHandler = Object.defineProperties(handler, {
    tryHandle: { value: tryHandle },
    prefix: { value: settings.prefix },
    routes: { value: Object.freeze([...routes]) },
    settings: { value: settings },
    closed: { get: () => closed },
    close: { value: close },
  }) as TesseraHandler;
  internals.set(tesseraHandler, {
    respond,
    reject: (headers, error) => decorate(errorResponse(error), headers, settings.cookie.allowedOrigins),
  });
  return tesseraHandler;
}
