import type { Middleware } from 'koa';
import type { VerifiedClaims, Verifier } from '../create-verifier.ts';
import { authenticateRequest, checkRequireAuthOptions, type RequireAuthOptions } from '../request-auth.ts';

export type { RequireAuthOptions } from '../request-auth.ts';

/**
 * The Koa state `requireAuth` adds. It types `ctx.state.auth` through Koa's own state generic
 * (`app.use` and routers carry it to the next middleware) rather than a global `DefaultState`
 * declaration, which would clash with another middleware's `ctx.state.auth` in the same program.
 */
export interface AuthState {
  /** The verified access-token claims. */
  auth?: VerifiedClaims;
}

/**
 * Koa middleware: verifies `Authorization: Bearer` (or `DPoP` with its proof, RFC 9449), sets `ctx.state.auth`, or answers per RFC 6750
 * (and RFC 9470 with `maxAge` / `acr`) through {@link authenticateRequest}. Throws a `TypeError` for a
 * bad option.
 * @example
 * router.get('/me', requireAuth(verifier), (ctx) => { ctx.body = ctx.state.auth; });
 */
export function requireAuth(verifier: Verifier, options: RequireAuthOptions = {}): Middleware<AuthState> {
  checkRequireAuthOptions(options);
  return async (ctx, next) => {
    // `originalUrl`: the path as the client sent it, before a mounted app or router rewrote `url`.
    const request = {
      headers: ctx.req.headers,
      method: ctx.method,
      url: ctx.originalUrl,
      socket: ctx.req.socket,
    };
    const { claims, refusal } = await authenticateRequest(verifier, request, options);
    if (refusal) {
      ctx.status = refusal.status;
      ctx.set(refusal.headers);
      ctx.body = refusal.body;
      return;
    }
    ctx.state.auth = claims;
    await next();
  };
}
