import type { FastifyReply, FastifyRequest } from 'fastify';
import type { VerifiedClaims, Verifier } from '../create-verifier.ts';
import { authenticateRequest, checkRequireAuthOptions, type RequireAuthOptions } from '../request-auth.ts';

export type { RequireAuthOptions } from '../request-auth.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access-token claims, set by `requireAuth` from `@tessera/verify/fastify`. */
    auth?: VerifiedClaims;
  }
}

/**
 * A Fastify `preHandler` hook: verifies `Authorization: Bearer` (or `DPoP` with its proof, RFC 9449), sets `request.auth`, or answers per
 * RFC 6750 (and RFC 9470 with `maxAge` / `acr`) through {@link authenticateRequest}. Throws a
 * `TypeError` for a bad option.
 * @example
 * app.get('/me', { preHandler: requireAuth(verifier) }, async (request) => request.auth);
 */
export function requireAuth(
  verifier: Verifier,
  options: RequireAuthOptions = {},
): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  checkRequireAuthOptions(options);
  return async (request, reply) => {
    const { claims, refusal } = await authenticateRequest(verifier, request, options);
    if (refusal) return reply.code(refusal.status).headers(refusal.headers).send(refusal.body);
    request.auth = claims;
    return undefined;
  };
}
