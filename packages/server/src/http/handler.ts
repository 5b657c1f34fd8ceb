import { timingSafeEqual } from 'node:crypto';
import { systemClock, TesseraError } from '@tessera/core';
import { accountRoutes } from '../routes/account-routes.ts';
import { authRoutes } from '../routes/auth-routes.ts';
import { demoRoutes } from '../routes/demo-routes.ts';
import { discoveryRoutes } from '../routes/discovery-routes.ts';
import { oauthRoutes } from '../routes/oauth-routes.ts';
import { opsRoutes } from '../routes/ops-routes.ts';
import { policyRoutes, RENEWED_TOKEN_EXPIRES_HEADER, RENEWED_TOKEN_HEADER } from '../routes/policy-routes.ts';
import { revocationRoutes } from '../routes/revocation-routes.ts';
import { readBearerToken } from './bearer.ts';
import { empty, errorResponse, missingTokenResponse } from './error-response.ts';
import type { ResolvedRoutes, Route, RoutesOptions } from './route.ts';
import { chooseTransport, TRANSPORT_HEADER } from './transport.ts';
import type { HttpRequest, HttpResponse } from './types.ts';

/** The shared request handler every host calls, plus the paths it serves (for host routers). */
export interface RequestHandler {
  (request: HttpRequest): Promise<HttpResponse>;
  /** Every path the handler serves, `:name` for parameters, below the mount prefix. */
  readonly paths: readonly string[];
  /** True when `path` (below the prefix) is one of the handler's. */
  matches(path: string): boolean;
  readonly settings: ResolvedRoutes;
  /** Stops background work (the revocation feed and its streams). */
  close(): void;
  /**
   * The error response for a request an adapter refused before routing (a body too large, a host
   * parser's failure), with the same security and CORS headers as every routed response.
   */
  reject(headers: HttpRequest['headers'], error: unknown): HttpResponse;
  /** Adds the security headers and (for an allowed `Origin` in `headers`) CORS headers to `response`. */
  decorate(response: HttpResponse, headers: HttpRequest['headers']): HttpResponse;
}

const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
});

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

interface CompiledRoute {
  route: Route;
  pattern: RegExp;
  paramNames: string[];
}

function compile(route: Route): CompiledRoute {
  const paramNames: string[] = [];
  const source = route.path
    .split('/')
    .map((part) => {
      if (part.startsWith(':')) {
        paramNames.push(part.slice(1));
        return '([^/]+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { route, pattern: new RegExp(`^${source}$`), paramNames };
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function resolveRoutes(options: RoutesOptions): ResolvedRoutes {
  const issuer = options.engine.settings.issuer;
  const authPath = options.authPath ?? '/auth';
  const prefix = (options.prefix ?? '').replace(/\/+$/, '');
  return {
    engine: options.engine,
    authPath,
    oauthPath: options.oauthPath ?? '/oauth',
    prefix,
    publicUrl: (options.publicUrl ?? new URL(issuer).origin).replace(/\/+$/, ''),
    cookie: {
      path: `${prefix}${authPath}`,
      secure: options.cookieSecure ?? true,
      allowedOrigins: options.allowedOrigins ?? [new URL(issuer).origin],
    },
    serviceToken: options.serviceToken ?? null,
    demo: options.demo ?? false,
    metrics: options.metrics ?? null,
    clock: options.clock ?? systemClock,
  };
}

function checkServiceCaller(request: HttpRequest, serviceToken: string | null): HttpResponse | null {
  if (serviceToken === null) {
    if (LOOPBACK.test(request.ip)) return null;
    return errorResponse(
      new TesseraError('forbidden', 'Set TESSERA_SERVICE_TOKEN to serve callers beyond this machine.'),
    );
  }
  const token = readBearerToken(request);
  if (token === null) return missingTokenResponse();
  const given = Buffer.from(token);
  const expected = Buffer.from(serviceToken);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return errorResponse(new TesseraError('invalid_token', 'The service token is not valid.'), {
      bearer: true,
    });
  }
  return null;
}

function corsHeaders(
  request: Pick<HttpRequest, 'headers'>,
  settings: ResolvedRoutes,
): Record<string, string> {
  const origin = request.headers.origin;
  if (origin === undefined || !settings.cookie.allowedOrigins.includes(origin)) return {};
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': `WWW-Authenticate, Retry-After, ${RENEWED_TOKEN_HEADER}, ${RENEWED_TOKEN_EXPIRES_HEADER}`,
    vary: 'Origin',
  };
}

/**
 * Creates the shared handler for every Tessera route: routing, CORS for allowed origins, bearer and
 * service authentication, the error mapping and security headers. Hosts only translate requests.
 */
export function createRequestHandler(options: RoutesOptions): RequestHandler {
  const settings = resolveRoutes(options);
  const revocations = revocationRoutes(settings.authPath);
  const routes = [
    ...authRoutes(settings.authPath),
    ...accountRoutes(settings.authPath),
    ...revocations.routes,
    ...policyRoutes(settings.authPath),
    ...oauthRoutes(settings.oauthPath),
    ...discoveryRoutes(settings.authPath, settings.oauthPath),
    ...opsRoutes(),
    ...(settings.demo ? demoRoutes() : []),
  ].map(compile);

  const find = (path: string) => routes.filter((r) => r.pattern.test(path));

  async function dispatch(request: HttpRequest): Promise<{ response: HttpResponse; label: string }> {
    const candidates = find(request.path);
    if (candidates.length === 0) {
      return {
        response: errorResponse(new TesseraError('not_found', 'No such route.')),
        label: 'unmatched',
      };
    }
    const label = candidates[0]?.route.path ?? 'unmatched';
    const allowed = candidates.map((c) => c.route.method);
    if (request.method === 'OPTIONS') {
      const cors = corsHeaders(request, settings);
      if (!cors['access-control-allow-origin']) {
        return {
          response: errorResponse(new TesseraError('forbidden_origin', 'This origin is not allowed.')),
          label,
        };
      }
      return {
        response: empty(204, {
          ...cors,
          'access-control-allow-methods': allowed.join(', '),
          'access-control-allow-headers': `Authorization, Content-Type, ${TRANSPORT_HEADER}`,
          'access-control-max-age': '600',
        }),
        label,
      };
    }
    const method = request.method === 'HEAD' ? 'GET' : request.method;
    const match = candidates.find((c) => c.route.method === method);
    if (!match) {
      const response = errorResponse(
        new TesseraError('method_not_allowed', 'This method is not allowed here.'),
      );
      response.headers.allow = allowed.join(', ');
      return { response, label };
    }
    const { route } = match;
    try {
      // Check the transport header before any route acts, so a bad one changes nothing.
      chooseTransport(request);
      const params: Record<string, string> = {};
      const values = match.pattern.exec(request.path)?.slice(1) ?? [];
      match.paramNames.forEach((name, i) => {
        params[name] = safeDecode(values[i] ?? '');
      });
      let auth = null;
      if (route.auth === 'bearer') {
        const token = readBearerToken(request);
        if (token === null) return { response: missingTokenResponse(), label };
        auth = await settings.engine.authenticate(token);
      } else if (route.auth === 'service') {
        const refusal = checkServiceCaller(request, settings.serviceToken);
        if (refusal) return { response: refusal, label };
      }
      const response = await route.handle({ request, routes: settings, params, auth });
      if (auth && settings.engine.settings.policy === 'sliding-single-token' && response.status < 400) {
        const renewed = await settings.engine.slide(auth, {
          ip: request.ip,
          userAgent: request.headers['user-agent'] ?? null,
        });
        if (renewed) {
          response.headers[RENEWED_TOKEN_HEADER] = renewed.accessToken;
          response.headers[RENEWED_TOKEN_EXPIRES_HEADER] = String(renewed.expiresIn);
          response.headers['cache-control'] = 'no-store';
        }
      }
      return { response, label };
    } catch (error) {
      return { response: errorResponse(error, { bearer: route.auth === 'bearer' }), label };
    }
  }

  /** Security headers on every response, and CORS headers for an allowed `Origin` among `headers`. */
  const decorate = (response: HttpResponse, headers: HttpRequest['headers']): HttpResponse => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      if (response.headers[name] === undefined) response.headers[name] = value;
    }
    Object.assign(response.headers, corsHeaders({ headers } as Pick<HttpRequest, 'headers'>, settings));
    return response;
  };

  const handler = async (request: HttpRequest): Promise<HttpResponse> => {
    const started = performance.now();
    let result: { response: HttpResponse; label: string };
    try {
      result = await dispatch(request);
    } catch (error) {
      result = { response: errorResponse(error), label: 'unmatched' };
    }
    const { response, label } = result;
    if (request.method === 'OPTIONS') decorate(response, {});
    else decorate(response, request.headers);
    if (settings.metrics) {
      settings.metrics.requests.inc({
        method: request.method,
        route: label,
        status: String(response.status),
      });
      settings.metrics.duration.observe({ route: label }, (performance.now() - started) / 1000);
    }
    return response;
  };
  return Object.assign(handler, {
    paths: [...new Set(routes.map((r) => r.route.path))],
    matches: (path: string) => find(path).length > 0,
    settings,
    close: () => revocations.close(),
    reject: (headers: HttpRequest['headers'], error: unknown) => decorate(errorResponse(error), headers),
    decorate,
  });
}
