import { json } from '../http/error-response.ts';
import type { Route } from '../http/route.ts';

const PUBLIC_CACHE = { 'cache-control': 'public, max-age=60', 'access-control-allow-origin': '*' };

/** `GET /.well-known/jwks.json` and `GET /.well-known/oauth-authorization-server` (RFC 8414). */
export function discoveryRoutes(authPath: string, oauthPath: string): Route[] {
  return [
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
      path: '/.well-known/oauth-authorization-server',
      auth: 'none',
      async handle(ctx) {
        const base = `${ctx.routes.publicUrl}${ctx.routes.prefix}`;
        const response = json(
          200,
          {
            issuer: ctx.routes.engine.settings.issuer,
            token_endpoint: `${base}${oauthPath}/token`,
            jwks_uri: `${base}/.well-known/jwks.json`,
            revocation_endpoint: `${base}${oauthPath}/revoke`,
            introspection_endpoint: `${base}${oauthPath}/introspect`,
            grant_types_supported: ['refresh_token'],
            response_types_supported: [],
            token_endpoint_auth_methods_supported: ['none'],
            revocation_endpoint_auth_methods_supported: ['none'],
            introspection_endpoint_auth_methods_supported: ['bearer'],
            service_documentation: `${base}${authPath}`,
          },
          PUBLIC_CACHE,
        );
        delete response.headers.pragma;
        return response;
      },
    },
  ];
}
