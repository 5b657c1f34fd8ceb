import { readBody, validateFields } from '../http/body.ts';
import { bearerAuth, clientInfo, type Route, tokenResponse } from '../http/route.ts';
import { chooseTransport } from '../http/transport.ts';

/**
 * `POST /auth/reauthenticate` (RFC 9470 step-up): `{password}`, `{totp}` or `{recovery_code}` (with
 * two-factor login on, a code is required and the password may come with it) renews the session's
 * `auth_time` and `amr`; the answer is a token response with a fresh access token that expires no
 * later than the presented one, and no refresh token under any policy (nothing rotates).
 */
export function stepUpRoutes(base: string): Route[] {
  return [
    {
      method: 'POST',
      path: `${base}/reauthenticate`,
      auth: 'bearer',
      async handle(ctx) {
        const body = validateFields(readBody(ctx.request, 'json').value, {
          password: { maxLength: 16_384, optional: true },
          totp: { maxLength: 64, optional: true },
          recovery_code: { maxLength: 64, optional: true },
        });
        const tokens = await ctx.routes.engine.reauthenticate(
          bearerAuth(ctx),
          {
            password: body.password ?? undefined,
            totp: body.totp ?? undefined,
            recoveryCode: body.recovery_code ?? undefined,
          },
          clientInfo(ctx.request),
        );
        return tokenResponse(ctx, tokens, chooseTransport(ctx.request.headers));
      },
    },
  ];
}
