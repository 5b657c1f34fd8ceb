import { TesseraError } from '@tessera/core';
import { readBody, validateFields } from '../http/body.ts';
import { presentedAccessToken } from '../http/dpop.ts';
import { clientInfo, type Route, type RouteContext, tokenResponse } from '../http/route.ts';
import {
  assertCookieRequestAllowed,
  chooseTransport,
  readRefreshCookie,
  SESSION_COOKIE,
} from '../http/transport.ts';
import type { HttpResponse } from '../http/types.ts';

/** The session handle a request presents (cookie with CSRF checks, or `session_token` in the body). */
export function presentedSessionHandle(
  ctx: RouteContext,
  bodyHandle: string | null | undefined,
): string | null {
  if (chooseTransport(ctx.request.headers) === 'body') return bodyHandle ?? null;
  const cookie = readRefreshCookie(ctx.request.headers, SESSION_COOKIE);
  if (cookie === undefined) return null;
  assertCookieRequestAllowed(ctx.request.headers, ctx.routes.cookie);
  return cookie;
}

/**
 * `POST /auth/refresh` under `expired-token-exchange`: the expired access token (Authorization: Bearer)
 * and the session handle (cookie, or `session_token` in the body) buy a new access token, once.
 */
export async function exchangeExpiredRoute(ctx: RouteContext): Promise<HttpResponse> {
  const transport = chooseTransport(ctx.request.headers);
  const body = validateFields(readBody(ctx.request, 'json', 'invalid_request').value, {
    session_token: { maxLength: 512, optional: true },
  });
  const handle = presentedSessionHandle(ctx, body.session_token);
  const presented = await presentedAccessToken(ctx.routes, ctx.request);
  if (!handle || !presented) {
    throw new TesseraError(
      'invalid_request',
      'Send the expired access token as a Bearer token with the session cookie.',
    );
  }
  const tokens = await ctx.routes.engine.exchangeExpired(presented.token, handle, {
    ...clientInfo(ctx.request),
    dpopJkt: presented.dpopJkt,
  });
  return tokenResponse(ctx, tokens, transport);
}

/** `POST /auth/renew` (`soft-expiry`): a soft-expired token of a live session buys a new one, once. */
export function policyRoutes(base: string): Route[] {
  return [
    {
      method: 'POST',
      path: `${base}/renew`,
      auth: 'none',
      async handle(ctx) {
        validateFields(readBody(ctx.request, 'json', 'invalid_request').value, {});
        const presented = await presentedAccessToken(ctx.routes, ctx.request);
        if (!presented)
          throw new TesseraError('invalid_request', 'Send the soft-expired access token as a Bearer token.');
        const tokens = await ctx.routes.engine.renew(presented.token, {
          ...clientInfo(ctx.request),
          dpopJkt: presented.dpopJkt,
        });
        return tokenResponse(ctx, tokens, chooseTransport(ctx.request.headers));
      },
    },
  ];
}
