import type { MiddlewareHandler } from 'hono';
import type { VerifiedClaims, Verifier } from '../create-verifier.ts';
import {
  authenticateRequest,
  checkRequireAuthOptions,
  type RequireAuthOptions,
  refusalResponse,
} from '../request-auth.ts';

export type { RequireAuthOptions } from '../request-auth.ts';

/**
 * The Hono environment `requireAuth` adds: `c.get('auth')` is typed through Hono's own `Env`
 * generic (handlers after the middleware inherit it) rather than a global `ContextVariableMap`
 * declaration, which would clash with another middleware's `auth` variable in the same program.
 */
export interface AuthEnv {
  Variables: {
    /** The verified access-token claims. */
    auth: VerifiedClaims;
  };
}

/**
 * Hono middleware: verifies `Authorization: Bearer` (or `DPoP` with its proof, RFC 9449) on the web `Request`, makes the claims
 * `c.get('auth')`, or answers per RFC 6750 (and RFC 9470 with `maxAge` / `acr`) through
 * {@link authenticateRequest}. Throws a `TypeError` for a bad option.
 * @example
 * app.get('/me', requireAuth(verifier), (c) => c.json(c.get('auth')));
 */
export function requireAuth(
  verifier: Verifier,
  options: RequireAuthOptions = {},
): MiddlewareHandler<AuthEnv> {
  checkRequireAuthOptions(options);
  return async (c, next) => {
    const { claims, refusal } = await authenticateRequest(verifier, c.req.raw, options);
    if (refusal) return refusalResponse(refusal);
    c.set('auth', claims);
    await next();
    return undefined;
  };
}
