import { hasControlCharacters, TesseraError } from '@tessera/core';
import { readBody, validateFields } from '../http/body.ts';
import { presentedDevice, withDeviceCookie } from '../http/device-cookie.ts';
import { authenticateRequest, tokenRequestDpopJkt } from '../http/dpop.ts';
import { empty } from '../http/error-response.ts';
import { clientInfo, type Route, type RouteContext, tokenResponse } from '../http/route.ts';
import {
  assertCookieRequestAllowed,
  assertOriginAllowed,
  chooseTransport,
  clearedAccessCookie,
  clearedRefreshCookie,
  readRefreshCookie,
  SESSION_COOKIE,
} from '../http/transport.ts';
import { exchangeExpiredRoute, presentedSessionHandle } from './policy-routes.ts';

// Generous caps here; the engine applies the real rules (254-character emails, 8–1,024-character passwords).
const CREDENTIALS = {
  email: { maxLength: 16_384 },
  password: { maxLength: 16_384 },
} as const;
const DEVICE_NAME = { maxLength: 100, optional: true } as const;

/** A device name from a request body, trimmed; throws `invalid_request` for a blank or unprintable one. */
export function deviceName(value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  const trimmed = value.trim();
  if (!trimmed || hasControlCharacters(trimmed)) {
    throw new TesseraError('invalid_request', 'The device name must be 1 to 100 printable characters.', {
      field: 'device_name',
    });
  }
  return trimmed;
}

/** The refresh token a request presents, with the CSRF checks cookie transport requires. */
function presentedRefreshToken(ctx: RouteContext, bodyToken: string | null | undefined): string | null {
  const transport = chooseTransport(ctx.request.headers);
  if (transport === 'body') return bodyToken ?? null;
  if (bodyToken) {
    throw new TesseraError(
      'invalid_request',
      'With cookie transport the refresh token travels in the cookie only.',
    );
  }
  const cookie = readRefreshCookie(ctx.request.headers);
  if (cookie === undefined) return null;
  assertCookieRequestAllowed(ctx.request.headers, ctx.routes.cookie);
  return cookie;
}

/** `POST /auth/register`, `/auth/login`, `/auth/refresh`, `/auth/logout`, `/auth/logout-all`. */
export function authRoutes(base: string): Route[] {
  return [
    {
      method: 'POST',
      path: `${base}/register`,
      auth: 'none',
      async handle(ctx) {
        const transport = chooseTransport(ctx.request.headers);
        if (transport === 'cookie') assertOriginAllowed(ctx.request.headers, ctx.routes.cookie);
        const body = validateFields(readBody(ctx.request, 'json').value, {
          ...CREDENTIALS,
          device_name: DEVICE_NAME,
        });
        const device = presentedDevice(ctx, transport);
        const dpopJkt = await tokenRequestDpopJkt(ctx.routes, ctx.request);
        const tokens = await ctx.routes.engine.register({
          dpopJkt,
          email: body.email as string,
          password: body.password as string,
          deviceName: deviceName(body.device_name),
          deviceId: device.id,
          ...clientInfo(ctx.request),
        });
        return withDeviceCookie(tokenResponse(ctx, tokens, transport, 201), device);
      },
    },
    {
      method: 'POST',
      path: `${base}/login`,
      auth: 'none',
      async handle(ctx) {
        const transport = chooseTransport(ctx.request.headers);
        if (transport === 'cookie') assertOriginAllowed(ctx.request.headers, ctx.routes.cookie);
        const body = validateFields(readBody(ctx.request, 'json').value, {
          ...CREDENTIALS,
          totp: { maxLength: 16, optional: true },
          recovery_code: { maxLength: 64, optional: true },
          device_name: DEVICE_NAME,
        });
        const device = presentedDevice(ctx, transport);
        const dpopJkt = await tokenRequestDpopJkt(ctx.routes, ctx.request);
        const tokens = await ctx.routes.engine.login({
          dpopJkt,
          email: body.email as string,
          password: body.password as string,
          deviceName: deviceName(body.device_name),
          deviceId: device.id,
          ...(body.totp ? { totp: body.totp } : {}),
          ...(body.recovery_code ? { recoveryCode: body.recovery_code } : {}),
          ...clientInfo(ctx.request),
        });
        return withDeviceCookie(tokenResponse(ctx, tokens, transport), device);
      },
    },
    {
      method: 'POST',
      path: `${base}/refresh`,
      auth: 'none',
      async handle(ctx) {
        if (ctx.routes.engine.settings.renewal === 'exchange') return exchangeExpiredRoute(ctx);
        const transport = chooseTransport(ctx.request.headers);
        const body = validateFields(readBody(ctx.request, 'json', 'invalid_request').value, {
          refresh_token: { maxLength: 8192, optional: true },
        });
        const token = presentedRefreshToken(ctx, body.refresh_token);
        if (!token) throw new TesseraError('invalid_request', 'No refresh token was presented.');
        const dpopJkt = await tokenRequestDpopJkt(ctx.routes, ctx.request);
        const tokens = await ctx.routes.engine.refresh({
          refreshToken: token,
          dpopJkt,
          ...clientInfo(ctx.request),
        });
        return tokenResponse(ctx, tokens, transport);
      },
    },
    {
      method: 'POST',
      path: `${base}/logout`,
      auth: 'none',
      async handle(ctx) {
        const transport = chooseTransport(ctx.request.headers);
        const headers: Record<string, string[]> =
          transport === 'cookie'
            ? {
                'set-cookie': [
                  clearedRefreshCookie(ctx.routes.cookie),
                  clearedRefreshCookie(ctx.routes.cookie, SESSION_COOKIE),
                  clearedAccessCookie(ctx.routes.cookie.secure),
                ],
              }
            : {};
        const body = validateFields(readBody(ctx.request, 'json').value, {
          refresh_token: { maxLength: 8192, optional: true },
          session_token: { maxLength: 512, optional: true },
        });
        const refreshToken = presentedRefreshToken(ctx, body.refresh_token);
        if (refreshToken) {
          await ctx.routes.engine.logoutWithRefreshToken(refreshToken);
          return empty(204, headers);
        }
        const sessionHandle = presentedSessionHandle(ctx, body.session_token);
        if (sessionHandle) {
          await ctx.routes.engine.logoutWithSessionHandle(sessionHandle);
          return empty(204, headers);
        }
        const auth = await authenticateRequest(ctx.routes, ctx.request);
        if (auth) {
          await ctx.routes.engine.logoutSession(auth.session.id);
          return empty(204, headers);
        }
        throw new TesseraError(
          'invalid_request',
          'Present the refresh token (cookie or body) or the access token of the session to end.',
        );
      },
    },
    {
      method: 'POST',
      path: `${base}/logout-all`,
      auth: 'bearer',
      async handle(ctx) {
        validateFields(readBody(ctx.request, 'json').value, {});
        await ctx.routes.engine.logoutAll((ctx.auth as NonNullable<typeof ctx.auth>).user.id);
        const headers: Record<string, string[]> =
          chooseTransport(ctx.request.headers) === 'cookie'
            ? {
                'set-cookie': [
                  clearedRefreshCookie(ctx.routes.cookie),
                  clearedAccessCookie(ctx.routes.cookie.secure),
                ],
              }
            : {};
        return empty(204, headers);
      },
    },
  ];
}
