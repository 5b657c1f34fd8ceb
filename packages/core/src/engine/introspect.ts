import { readConfirmationThumbprint } from '@tessera/protocol';
import { isTesseraError } from '../errors.ts';
import { REFRESH_TOKEN_PREFIX } from '../tokens/refresh-token.ts';
import { authenticate } from './authenticate.ts';
import type { EngineContext } from './context.ts';
import { findIssuedSession, refreshTokenUsable } from './rotate-refresh-token.ts';

/** An RFC 7662 §2.2 introspection response. Inactive tokens get `{ active: false }` and nothing else. */
export type IntrospectionResult = { active: false } | ({ active: true } & Record<string, unknown>);

/**
 * Introspects an access token or a refresh token (RFC 7662 §2.2). An access token is active when a
 * bearer route would accept it (signature, claims, live session, current token version); a refresh
 * token when a refresh would accept it. Read-only: introspecting a retired refresh token reports it
 * inactive but never counts as reuse. Throws only when the store fails (5xx codes).
 */
export async function introspect(ctx: EngineContext, token: string): Promise<IntrospectionResult> {
  try {
    if (typeof token === 'string' && token.startsWith(REFRESH_TOKEN_PREFIX)) {
      const { session, generation } = await findIssuedSession(ctx, token);
      if (!refreshTokenUsable(ctx, session, generation, ctx.clock.now())) return { active: false };
      return {
        active: true,
        token_type: 'refresh_token',
        client_id: ctx.clientId,
        iss: ctx.issuer,
        sub: session.userId,
        sid: session.id,
        iat: Math.floor(session.rotatedAtMs / 1000),
        exp: Math.floor(Math.min(session.idleExpiresAtMs, session.absoluteExpiresAtMs) / 1000),
      };
    }
    // RFC 9449 §6.2: a bound token is reported with its `cnf.jkt`; the resource server checks the proof.
    const { claims } = await authenticate(ctx, token, 'introspection');
    return {
      ...claims,
      active: true,
      token_type: readConfirmationThumbprint(claims) === null ? 'Bearer' : 'DPoP',
    };
  } catch (error) {
    // A token we cannot vouch for is inactive; a store failure is not an answer about the token.
    if (isTesseraError(error) && error.status < 500) return { active: false };
    throw error;
  }
}
