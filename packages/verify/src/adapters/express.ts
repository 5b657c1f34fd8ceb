import type { IncomingMessage, ServerResponse } from 'node:http';
import type { VerifiedClaims, Verifier } from '../create-verifier.ts';
import { authorize } from '../http-errors.ts';

/** Options of `requireAuth`. */
export interface RequireAuthOptions {
  /** The realm in `WWW-Authenticate`. Default `api`. */
  realm?: string;
}

/**
 * Express middleware: verifies `Authorization: Bearer`, sets `req.auth` to the claims, or answers per
 * RFC 6750 (401 / 400 / 503).
 * @example
 * app.get('/me', requireAuth(verifier), (req, res) => res.json(req.auth));
 */
export function requireAuth(
  verifier: Verifier,
  options: RequireAuthOptions = {},
): (
  req: IncomingMessage & { auth?: VerifiedClaims },
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void {
  const realm = options.realm ?? 'api';
  return (req, res, next) => {
    authorize(req.headers.authorization, realm, (token) => verifier.verify(token)).then((result) => {
      if ('claims' in result) {
        req.auth = result.claims;
        next();
        return;
      }
      res.writeHead(result.failure.status, { ...result.failure.headers, 'content-type': 'application/json' });
      res.end(JSON.stringify(result.failure.body));
    }, next);
  };
}
