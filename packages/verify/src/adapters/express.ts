import type { RequestHandler } from 'express';
import type { VerifiedClaims, Verifier } from '../create-verifier.ts';
import { authenticateRequest, checkRequireAuthOptions, type RequireAuthOptions } from '../request-auth.ts';

export type { RequireAuthOptions } from '../request-auth.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** The verified access-token claims, set by `requireAuth` from `@tessera/verify/express`. */
    auth?: VerifiedClaims;
  }
}

/**
 * Express middleware: verifies `Authorization: Bearer` (or `DPoP` with its proof, RFC 9449), sets `req.auth` to the claims, or answers per
 * RFC 6750 (401 / 400 / 503), and RFC 9470 with `maxAge` / `acr`, through {@link authenticateRequest}.
 * Throws a `TypeError` for a bad option.
 * @example
 * app.get('/me', requireAuth(verifier), (req, res) => res.json(req.auth));
 * app.post('/payouts', requireAuth(verifier, { maxAge: 300 }), pay); // signed in within 5 minutes
 */
export function requireAuth(verifier: Verifier, options: RequireAuthOptions = {}): RequestHandler {
  checkRequireAuthOptions(options);
  return (req, res, next) => {
    authenticateRequest(verifier, req, options).then(({ claims, refusal }) => {
      if (refusal) {
        res.status(refusal.status).set(refusal.headers).json(refusal.body);
        return;
      }
      req.auth = claims;
      next();
    }, next);
  };
}
