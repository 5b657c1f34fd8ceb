import type { VerifiedClaims, Verifier } from '../create-verifier.ts';
import { authorize } from '../http-errors.ts';

/** Options of `requireAuth`. */
export interface RequireAuthOptions {
  /** The realm in `WWW-Authenticate`. Default `api`. */
  realm?: string;
}

interface FastifyLikeRequest {
  headers: { authorization?: string | undefined };
  auth?: VerifiedClaims;
}
interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  headers(values: Record<string, string>): FastifyLikeReply;
  send(body: unknown): unknown;
}

/**
 * A Fastify `preHandler` hook: verifies `Authorization: Bearer`, sets `request.auth`, or answers per
 * RFC 6750.
 * @example
 * app.get('/me', { preHandler: requireAuth(verifier) }, async (request) => request.auth);
 */
export function requireAuth(
  verifier: Verifier,
  options: RequireAuthOptions = {},
): (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<unknown> {
  const realm = options.realm ?? 'api';
  return async (request, reply) => {
    const result = await authorize(request.headers.authorization, realm, (token) => verifier.verify(token));
    if ('failure' in result)
      return reply.code(result.failure.status).headers(result.failure.headers).send(result.failure.body);
    request.auth = result.claims;
    return undefined;
  };
}
