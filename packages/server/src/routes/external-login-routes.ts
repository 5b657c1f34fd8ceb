import {
  ACCESS_TOKEN_TYPE,
  type ExchangedTokenSet,
  isTesseraError,
  REFRESH_TOKEN_TYPE,
  SUBJECT_TOKEN_MAX_LENGTH,
  TesseraError,
} from '@tessera/core';
import { readBody, validateFields } from '../http/body.ts';
import { tokenRequestDpopJkt } from '../http/dpop.ts';
import { clientInfo, type Route, type RouteContext, tokenResponse } from '../http/route.ts';
import { assertOriginAllowed, chooseTransport, type Transport } from '../http/transport.ts';
import type { HttpResponse } from '../http/types.ts';

// The caps are generous; the engine applies the real rules (token type, nonce and device name).
const EXCHANGE_FIELDS = {
  subject_token: { maxLength: SUBJECT_TOKEN_MAX_LENGTH },
  subject_token_type: { maxLength: 256 },
  nonce: { maxLength: 512, optional: true },
  device_name: { maxLength: 100, optional: true },
} as const;

// RFC 6749 §3.2 (unknown parameters are ignored) does not cover these: each changes what is asked for.
const EXCHANGE_EXTRAS = {
  requested_token_type: { maxLength: 256, optional: true },
  audience: { maxLength: 2048, optional: true },
  resource: { maxLength: 2048, optional: true },
  actor_token: { maxLength: SUBJECT_TOKEN_MAX_LENGTH, optional: true },
  actor_token_type: { maxLength: 256, optional: true },
} as const;

async function exchange(
  ctx: RouteContext,
  body: Record<string, string | null | undefined>,
  transport: Transport,
): Promise<HttpResponse> {
  const dpopJkt = await tokenRequestDpopJkt(ctx.routes, ctx.request);
  const tokens: ExchangedTokenSet = await ctx.routes.engine.exchangeIdToken({
    dpopJkt,
    subjectToken: body.subject_token as string,
    subjectTokenType: body.subject_token_type as string,
    nonce: body.nonce ?? null,
    deviceName: body.device_name ?? null,
    ...clientInfo(ctx.request),
  });
  return tokenResponse(ctx, tokens, transport, 200, { issued_token_type: tokens.issuedTokenType });
}

/**
 * The token-exchange grant of `POST /oauth/token` (RFC 8693 §2.1): an ID token (`subject_token`,
 * `subject_token_type=urn:ietf:params:oauth:token-type:id_token`) for a session, body transport only.
 * `requested_token_type` may name only what the policy issues; `audience` and `resource` only this
 * server (else `invalid_target`, §2.2.2); delegation (`actor_token`) is not offered. Errors follow
 * RFC 6749 §5.2: a refused account (disabled, or an email that belongs to another account) is
 * `invalid_grant` here. Without a trusted issuer the grant is `unsupported_grant_type`.
 */
export async function tokenExchangeGrant(
  ctx: RouteContext,
  raw: Record<string, unknown>,
): Promise<HttpResponse> {
  const engine = ctx.routes.engine;
  if (engine.settings.trustedIssuers.length === 0) {
    throw new TesseraError(
      'unsupported_grant_type',
      'Token exchange is off: no identity provider is trusted.',
    );
  }
  const body = validateFields(raw, { ...EXCHANGE_FIELDS, ...EXCHANGE_EXTRAS }, { ignoreUnknown: true });
  if (body.actor_token !== undefined || body.actor_token_type !== undefined) {
    throw new TesseraError('invalid_request', 'Delegation (actor_token) is not supported.', {
      field: 'actor_token',
    });
  }
  const issued = engine.settings.issuesRefreshToken ? REFRESH_TOKEN_TYPE : ACCESS_TOKEN_TYPE;
  if (
    body.requested_token_type !== undefined &&
    ![issued, ACCESS_TOKEN_TYPE].includes(body.requested_token_type ?? '')
  ) {
    throw new TesseraError('invalid_request', `requested_token_type can only be ${issued}.`, {
      field: 'requested_token_type',
    });
  }
  for (const name of ['audience', 'resource'] as const) {
    const value = body[name];
    if (value !== undefined && value !== engine.settings.audience && value !== engine.settings.issuer) {
      throw new TesseraError(
        'invalid_target',
        `This server issues tokens for ${engine.settings.audience} only.`,
        {
          field: name,
        },
      );
    }
  }
  try {
    return await exchange(ctx, body, 'body');
  } catch (error) {
    if (isTesseraError(error) && (error.code === 'account_disabled' || error.code === 'email_taken')) {
      throw new TesseraError('invalid_grant', error.message, { cause: error });
    }
    throw error;
  }
}

/**
 * `POST <auth>/login/external` `{subject_token, subject_token_type, nonce?, device_name?}`: the same
 * exchange for browsers and apps, with the usual transports (cookie transport needs an allowed
 * `Origin`, as login does) and the usual codes (`account_disabled`, `email_taken`, `rate_limited`).
 */
export function externalLoginRoutes(base: string): Route[] {
  return [
    {
      method: 'POST',
      path: `${base}/login/external`,
      auth: 'none',
      async handle(ctx) {
        const transport = chooseTransport(ctx.request.headers);
        if (transport === 'cookie') assertOriginAllowed(ctx.request.headers, ctx.routes.cookie);
        const body = validateFields(readBody(ctx.request, 'json').value, EXCHANGE_FIELDS);
        return exchange(ctx, body, transport);
      },
    },
  ];
}
