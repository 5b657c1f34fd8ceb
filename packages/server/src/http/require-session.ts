import type { Authenticated, Engine } from '@tessera/core';
import {
  RENEWED_TOKEN_EXPIRES_HEADER,
  RENEWED_TOKEN_HEADER,
  type StepUpRequirement,
  stepUpOptions,
} from '@tessera/protocol';
import { readBearerToken } from './bearer.ts';
import { createClientIpResolver, type TrustProxy } from './client-ip.ts';
import { errorResponse, missingTokenResponse } from './error-response.ts';
import { decorate } from './security-headers.ts';
import type { HeaderReader, HttpResponse } from './types.ts';
import { toResponse } from './web-io.ts';

/** An authenticated app request: the session, and the headers to add to the app's response. */
export interface SessionAuth extends Authenticated {
  /**
   * Under `sliding-single-token`, the renewed token's headers (`Tessera-Access-Token`,
   * `Tessera-Access-Token-Expires-In`, `Cache-Control: no-store`) once the presented token is past half
   * its life; empty otherwise. Add them to the response.
   */
  responseHeaders: Record<string, string>;
}

/** Options of `requireSession`. */
export interface RequireSessionOptions {
  /** Proxies trusted to write `X-Forwarded-For` (for the address a renewal records). Default: none. */
  trustProxy?: TrustProxy;
  /**
   * RFC 9470 step-up for a sensitive route of the app: the most seconds since the user last
   * authenticated (the token's `auth_time`), e.g. `engine.settings.reauthMaxAgeSeconds`. An older
   * authentication gets 401 `insufficient_user_authentication` with `max_age`. Default: no limit.
   */
  maxAge?: number;
  /** RFC 9470: the acceptable `acr` values (`'1'` one factor, `'2'` two), one or a list. Default: any. */
  acr?: string | readonly string[];
}

/** The step-up requirement of `requireSession` options, checked when the guard is made (a `TypeError` otherwise). */
export function sessionRequirement(options: RequireSessionOptions): StepUpRequirement {
  return stepUpOptions('requireSession', options);
}

/**
 * The core every framework's `requireSession` wraps: authenticates the bearer token of a request with
 * the engine, checks the step-up `requirement` (RFC 9470) and renews the token under
 * `sliding-single-token`. Resolves to the session, or to the refusal to send instead (RFC 6750: 401
 * with `WWW-Authenticate`, 400 for a malformed header; RFC 9470: 401 `insufficient_user_authentication`
 * with `max_age` / `acr_values`), security headers included.
 */
export async function guardRequest(
  engine: Engine,
  headers: HeaderReader,
  ip: string,
  requirement: StepUpRequirement = {},
): Promise<SessionAuth | HttpResponse> {
  let auth: Authenticated;
  try {
    const token = readBearerToken(headers);
    if (token === null) return decorate(missingTokenResponse(), null, []);
    auth = await engine.authenticate(token);
    if (requirement.maxAgeSeconds !== undefined || requirement.acrValues?.length) {
      // The engine's clock and error, so app routes answer exactly as Tessera's own sensitive routes.
      engine.assertRecentAuthentication(auth, {
        maxAgeSeconds: requirement.maxAgeSeconds ?? null,
        acrValues: requirement.acrValues,
      });
    }
  } catch (error) {
    return decorate(errorResponse(error, { bearer: true }), null, []);
  }
  const renewed = await engine.slide(auth, { ip, userAgent: headers.get('user-agent') });
  return {
    ...auth,
    responseHeaders: renewed
      ? {
          [RENEWED_TOKEN_HEADER]: renewed.accessToken,
          [RENEWED_TOKEN_EXPIRES_HEADER]: String(renewed.expiresIn),
          'cache-control': 'no-store',
        }
      : {},
  };
}

/** True when a guard result is a refusal rather than a session. */
export function isRefusal(result: SessionAuth | HttpResponse): result is HttpResponse {
  return 'status' in result;
}

/**
 * A web-standard session guard for the app's own routes: `(request) => SessionAuth | Response`.
 * Framework subpaths wrap it; Next.js route handlers and any `fetch` host use it as is.
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
  options: RequireSessionOptions = {},
): (request: Request, info?: { ip?: string }) => Promise<SessionAuth | Response> {
  const resolveIp = createClientIpResolver(options.trustProxy ?? null);
  const requirement = sessionRequirement(options);
  return async (request, info = {}) => {
    const ip = resolveIp(info.ip ?? '', request.headers.get('x-forwarded-for'));
    const result = await guardRequest(engine, request.headers, ip, requirement);
    return isRefusal(result) ? toResponse(result, request.method === 'HEAD') : result;
  };
}
