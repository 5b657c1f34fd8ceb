import { isTesseraError } from '../errors.ts';
import { REFRESH_TOKEN_PREFIX } from '../tokens/refresh-token.ts';
import { authenticate } from './authenticate.ts';
import { type EngineContext, sessionEnded } from './context.ts';
import { findIssuedSession } from './rotate-refresh-token.ts';

/** An RFC 7662 §2.2 introspection response. Inactive tokens get `{ active: false }` and nothing else. */
export type IntrospectionResult = { active: false } | ({ active: true } & Record<string, unknown>);

/**
 * Introspects an access token or a refresh token (RFC 7662). Read-only: introspecting a retired
 * refresh token reports it inactive but never counts as reuse.
 */
export async function introspect(ctx: EngineContext, token: string): Promise<IntrospectionResult> {
  try {
    if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
      const { session, generation } = await findIssuedSession(ctx, token);
      const nowMs = ctx.clock.now();
      const usable =
        generation === session.generation ||
        (generation === session.generation - 1 && nowMs < session.rotatedAtMs + ctx.graceMs);
      if (!usable || sessionEnded(ctx, session, nowMs)) return { active: false };
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
    const { claims } = await authenticate(ctx, token);
    return { ...claims, active: true, token_type: 'Bearer' };
  } catch (error) {
    // A token we cannot vouch for is inactive; a database outage is not an answer about the token.
    if (isTesseraError(error) && error.code !== 'service_unavailable') return { active: false };
    throw error;
  }
}
