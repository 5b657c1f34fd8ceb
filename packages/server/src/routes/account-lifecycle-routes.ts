import { type Authenticated, TesseraError } from '@tessera/core';
import { readBody, validateFields } from '../http/body.ts';
import { presentedDevice, withDeviceCookie } from '../http/device-cookie.ts';
import { tokenRequestDpopJkt } from '../http/dpop.ts';
import { empty, json } from '../http/error-response.ts';
import { clientInfo, type Route, type RouteContext, tokenResponse } from '../http/route.ts';
import { assertOriginAllowed, chooseTransport } from '../http/transport.ts';
import { deviceName } from './auth-routes.ts';

// Generous caps here; the engine applies the real rules (emails, passwords, token shapes).
const EMAIL = { maxLength: 16_384 } as const;
const PASSWORD = { maxLength: 16_384 } as const;
const TOKEN = { maxLength: 2048 } as const;

function authOf(ctx: RouteContext): Authenticated {
  if (!ctx.auth) throw new TesseraError('invalid_token', 'An access token is required.');
  return ctx.auth;
}

/** The body of a route that takes only `fields`. */
function body<K extends string>(
  ctx: RouteContext,
  fields: Record<K, { maxLength: number; optional?: boolean }>,
): Record<K, string> {
  return validateFields(readBody(ctx.request, 'json').value, fields) as Record<K, string>;
}

/** The answer of a redeemed email token: the address, now verified. */
function verifiedBody(email: string): Record<string, unknown> {
  return { email, email_verified: true };
}

/**
 * One-time-token routes (DESIGN.md "Account lifecycle"), served when the engine has a delivery target:
 * `POST /auth/password/forgot`, `/auth/password/reset`, `/auth/email/verify/request` (bearer),
 * `/auth/email/verify`, `/auth/magic-link`, `/auth/magic-link/verify`, `/auth/email/change` (bearer),
 * `/auth/email/change/confirm`. Requests for a token answer 202 with no body whether or not the account
 * exists.
 */
export function accountLifecycleRoutes(base: string): Route[] {
  return [
    {
      method: 'POST',
      path: `${base}/password/forgot`,
      auth: 'none',
      async handle(ctx) {
        const { email } = body(ctx, { email: EMAIL });
        await ctx.routes.engine.requestPasswordReset({ email, ip: ctx.request.ip });
        return empty(202);
      },
    },
    {
      method: 'POST',
      path: `${base}/password/reset`,
      auth: 'none',
      async handle(ctx) {
        const fields = body(ctx, { token: TOKEN, new_password: PASSWORD });
        await ctx.routes.engine.resetPassword({
          token: fields.token,
          newPassword: fields.new_password,
          ip: ctx.request.ip,
        });
        return empty(204);
      },
    },
    {
      method: 'POST',
      path: `${base}/email/verify/request`,
      auth: 'bearer',
      async handle(ctx) {
        body(ctx, {});
        await ctx.routes.engine.requestEmailVerification(authOf(ctx), { ip: ctx.request.ip });
        return empty(202);
      },
    },
    {
      method: 'POST',
      path: `${base}/email/verify`,
      auth: 'none',
      async handle(ctx) {
        const { token } = body(ctx, { token: TOKEN });
        const verified = await ctx.routes.engine.verifyEmail({ token, ip: ctx.request.ip });
        return json(200, verifiedBody(verified.email));
      },
    },
    {
      method: 'POST',
      path: `${base}/magic-link`,
      auth: 'none',
      async handle(ctx) {
        const { email } = body(ctx, { email: EMAIL });
        await ctx.routes.engine.requestMagicLink({ email, ip: ctx.request.ip });
        return empty(202);
      },
    },
    {
      method: 'POST',
      path: `${base}/magic-link/verify`,
      auth: 'none',
      async handle(ctx) {
        const transport = chooseTransport(ctx.request.headers);
        if (transport === 'cookie') assertOriginAllowed(ctx.request.headers, ctx.routes.cookie);
        const fields = validateFields(readBody(ctx.request, 'json').value, {
          token: TOKEN,
          device_name: { maxLength: 100, optional: true },
        });
        const device = presentedDevice(ctx, transport);
        const dpopJkt = await tokenRequestDpopJkt(ctx.routes, ctx.request);
        const tokens = await ctx.routes.engine.signInWithMagicLink({
          dpopJkt,
          token: fields.token as string,
          deviceName: deviceName(fields.device_name),
          deviceId: device.id,
          ...clientInfo(ctx.request),
        });
        return withDeviceCookie(tokenResponse(ctx, tokens, transport), device);
      },
    },
    {
      method: 'POST',
      path: `${base}/email/change`,
      auth: 'bearer',
      // Moving the account to another inbox moves every reset link with it (RFC 9470 step-up).
      recentAuth: true,
      async handle(ctx) {
        const fields = body(ctx, { new_email: EMAIL, current_password: { ...PASSWORD, optional: true } });
        await ctx.routes.engine.requestEmailChange(
          authOf(ctx),
          {
            newEmail: fields.new_email,
            ...(fields.current_password === undefined ? {} : { currentPassword: fields.current_password }),
          },
          { ip: ctx.request.ip },
        );
        return empty(202);
      },
    },
    {
      method: 'POST',
      path: `${base}/email/change/confirm`,
      auth: 'none',
      async handle(ctx) {
        const { token } = body(ctx, { token: TOKEN });
        const changed = await ctx.routes.engine.confirmEmailChange({ token, ip: ctx.request.ip });
        return json(200, verifiedBody(changed.email));
      },
    },
  ];
}
