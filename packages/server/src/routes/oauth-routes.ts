import { TesseraError, TOKEN_EXCHANGE_GRANT } from '@tessera/core';
import { readBody, validateFields } from '../http/body.ts';
import { tokenRequestDpopJkt } from '../http/dpop.ts';
import { empty, json } from '../http/error-response.ts';
import { clientInfo, type Route, tokenResponse } from '../http/route.ts';
import { tokenExchangeGrant } from './external-login-routes.ts';

// RFC 6749 §3.2 / RFC 7009 §2.1 / RFC 7662 §2.1: unrecognized parameters are ignored.
const IGNORE_UNKNOWN = { ignoreUnknown: true } as const;

/**
 * `POST /oauth/token` (RFC 6749 §6, and RFC 8693 token exchange), `/oauth/revoke` (RFC 7009),
 * `/oauth/introspect` (RFC 7662).
 */
export function oauthRoutes(base: string): Route[] {
  return [
    {
      method: 'POST',
      path: `${base}/token`,
      auth: 'none',
      async handle(ctx) {
        const raw = readBody(ctx.request, 'json-or-form', 'invalid_request').value;
        const { grant_type } = validateFields(raw, { grant_type: { maxLength: 64 } }, IGNORE_UNKNOWN);
        if (grant_type === TOKEN_EXCHANGE_GRANT) return tokenExchangeGrant(ctx, raw);
        const body = validateFields(
          raw,
          {
            grant_type: { maxLength: 64 },
            refresh_token: { maxLength: 8192, optional: true },
            scope: { maxLength: 1024, optional: true },
          },
          IGNORE_UNKNOWN,
        );
        if (body.grant_type !== 'refresh_token') {
          throw new TesseraError(
            'unsupported_grant_type',
            'The supported grant types are refresh_token and, with a trusted identity provider, token exchange.',
          );
        }
        if (!body.refresh_token)
          throw new TesseraError('invalid_request', 'The refresh_token parameter is required.');
        const dpopJkt = await tokenRequestDpopJkt(ctx.routes, ctx.request);
        const tokens = await ctx.routes.engine.refresh({
          refreshToken: body.refresh_token,
          dpopJkt,
          ...clientInfo(ctx.request),
        });
        return tokenResponse(ctx, tokens, 'body');
      },
    },
    {
      method: 'POST',
      path: `${base}/revoke`,
      auth: 'none',
      async handle(ctx) {
        const body = validateFields(
          readBody(ctx.request, 'json-or-form', 'invalid_request').value,
          { token: { maxLength: 8192 }, token_type_hint: { maxLength: 64, optional: true } },
          IGNORE_UNKNOWN,
        );
        await ctx.routes.engine.revokeToken(body.token as string);
        // RFC 7009 §2.2: 200 whether or not the token was valid.
        return empty(200);
      },
    },
    {
      method: 'POST',
      path: `${base}/introspect`,
      auth: 'service',
      async handle(ctx) {
        const body = validateFields(
          readBody(ctx.request, 'json-or-form', 'invalid_request').value,
          { token: { maxLength: 8192 }, token_type_hint: { maxLength: 64, optional: true } },
          IGNORE_UNKNOWN,
        );
        return json(200, await ctx.routes.engine.introspect(body.token as string));
      },
    },
  ];
}
