import { TOKEN_EXCHANGE_GRANT } from '@tessera/core';
import { DPOP_SIGNING_ALGS } from '@tessera/protocol';
import { json } from '../http/error-response.ts';
import type { Route, RouteContext } from '../http/route.ts';
import type { HttpResponse } from '../http/types.ts';

const PUBLIC_CACHE = { 'cache-control': 'public, max-age=60', 'access-control-allow-origin': '*' };
const METADATA_PATH = '/.well-known/oauth-authorization-server';

/**
 * RFC 8414 §2 metadata (with RFC 9449's `dpop_signing_alg_values_supported`), with Tessera's extension `tessera_revocations_endpoint` (the revocation
 * snapshot; the stream is that URL plus `/stream`), so a verifier discovers every URL from it. The
 * RFC 8693 grant is listed when an identity provider is trusted.
 */
function metadata(ctx: RouteContext, authPath: string, oauthPath: string): HttpResponse {
  const base = `${ctx.routes.publicUrl}${ctx.routes.prefix}`;
  const response = json(
    200,
    {
      issuer: ctx.routes.engine.settings.issuer,
      token_endpoint: `${base}${oauthPath}/token`,
      jwks_uri: `${base}/.well-known/jwks.json`,
      revocation_endpoint: `${base}${oauthPath}/revoke`,
      introspection_endpoint: `${base}${oauthPath}/introspect`,
      grant_types_supported:
        ctx.routes.engine.settings.trustedIssuers.length > 0
          ? ['refresh_token', TOKEN_EXCHANGE_GRANT]
          : ['refresh_token'],
      response_types_supported: [],
      token_endpoint_auth_methods_supported: ['none'],
      revocation_endpoint_auth_methods_supported: ['none'],
      introspection_endpoint_auth_methods_supported: ['bearer'],
      tessera_revocations_endpoint: `${base}${authPath}/revocations`,
      // RFC 9449 §5.1: the proof algorithms the token endpoint accepts (absent when DPoP is off).
      ...(ctx.routes.engine.settings.dpop === 'off'
        ? {}
        : { dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS] }),
    },
    PUBLIC_CACHE,
  );
  delete response.headers.pragma;
  return response;
}

/**
 * `GET /.well-known/jwks.json` and `GET /.well-known/oauth-authorization-server` (RFC 8414) below the
 * mount prefix, and the metadata again where RFC 8414 §3 puts it for the issuer: at the server root,
 * followed by the issuer's path when it has one (`/.well-known/oauth-authorization-server/tenant` for
 * `https://example.com/tenant`).
 */
export function discoveryRoutes(
  authPath: string,
  oauthPath: string,
  issuer: string,
  prefix: string,
): Route[] {
  const issuerPath = new URL(issuer).pathname.replace(/\/+$/, '');
  const rootPath = `${METADATA_PATH}${issuerPath}`;
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/.well-known/jwks.json',
      auth: 'none',
      async handle(ctx) {
        const response = json(200, await ctx.routes.engine.jwks(), PUBLIC_CACHE);
        response.headers['content-type'] = 'application/jwk-set+json; charset=utf-8';
        delete response.headers.pragma;
        return response;
      },
    },
    {
      method: 'GET',
      path: METADATA_PATH,
      auth: 'none',
      handle: async (ctx) => metadata(ctx, authPath, oauthPath),
    },
  ];
  if (`${prefix}${METADATA_PATH}` !== rootPath) {
    routes.push({
      method: 'GET',
      path: rootPath,
      root: true,
      auth: 'none',
      handle: async (ctx) => metadata(ctx, authPath, oauthPath),
    });
  }
  return routes;
}
