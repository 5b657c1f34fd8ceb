import { readBody, validateFields } from '../http/body.ts';
import { empty, json } from '../http/error-response.ts';
import { bearerAuth, type Route } from '../http/route.ts';

// A TOTP code is six digits and a recovery code 19 characters; the cap only keeps junk out early.
const CODE = { code: { maxLength: 64 } } as const;

/**
 * Two-factor login (RFC 6238 TOTP with recovery codes): `GET /auth/mfa`, `POST /auth/mfa/totp/enroll`,
 * `POST /auth/mfa/totp/confirm`, `DELETE /auth/mfa/totp`, `POST /auth/mfa/recovery-codes`. Every
 * change needs a recent authentication (`recentAuth`: RFC 9470 step-up).
 */
export function mfaRoutes(base: string): Route[] {
  return [
    {
      method: 'GET',
      path: `${base}/mfa`,
      auth: 'bearer',
      async handle(ctx) {
        const status = await ctx.routes.engine.getTwoFactorStatus(bearerAuth(ctx).user.id);
        return json(200, {
          enabled: status.enabled,
          pending: status.pending,
          recovery_codes_remaining: status.recoveryCodesRemaining,
        });
      },
    },
    {
      method: 'POST',
      path: `${base}/mfa/totp/enroll`,
      auth: 'bearer',
      recentAuth: true,
      async handle(ctx) {
        validateFields(readBody(ctx.request, 'json').value, {});
        const { secret, uri } = await ctx.routes.engine.enrollTotp(bearerAuth(ctx));
        return json(200, { secret, otpauth_uri: uri });
      },
    },
    {
      method: 'POST',
      path: `${base}/mfa/totp/confirm`,
      auth: 'bearer',
      recentAuth: true,
      async handle(ctx) {
        const body = validateFields(readBody(ctx.request, 'json').value, CODE);
        const { recoveryCodes } = await ctx.routes.engine.confirmTotp(bearerAuth(ctx), body.code as string);
        return json(200, { recovery_codes: recoveryCodes });
      },
    },
    {
      method: 'DELETE',
      path: `${base}/mfa/totp`,
      auth: 'bearer',
      recentAuth: true,
      async handle(ctx) {
        const body = validateFields(readBody(ctx.request, 'json').value, CODE);
        await ctx.routes.engine.disableTotp(bearerAuth(ctx), body.code as string);
        return empty(204);
      },
    },
    {
      method: 'POST',
      path: `${base}/mfa/recovery-codes`,
      auth: 'bearer',
      recentAuth: true,
      async handle(ctx) {
        validateFields(readBody(ctx.request, 'json').value, {});
        const { recoveryCodes } = await ctx.routes.engine.regenerateRecoveryCodes(bearerAuth(ctx));
        return json(200, { recovery_codes: recoveryCodes });
      },
    },
  ];
}
