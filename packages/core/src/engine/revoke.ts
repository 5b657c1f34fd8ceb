import { isTesseraError, TesseraError } from '../errors.ts';
import type { RevokeReason } from '../store/store.ts';
import { parseSessionHandle, REFRESH_TOKEN_PREFIX, sessionHandleMatches } from '../tokens/refresh-token.ts';
import { authenticate } from './authenticate.ts';
import { accessTokenHorizonMs, announceRevoked, type EngineContext } from './context.ts';
import { findIssuedSession, refreshTokenUsable } from './rotate-refresh-token.ts';
import { emitWhenDelivering, sessionRevokedEvents } from './webhook-events.ts';

/** Ends one session. Returns true if it was live and is now revoked; ending it twice is harmless. */
export async function revokeSession(
  ctx: EngineContext,
  sessionId: string,
  reason: RevokeReason,
): Promise<boolean> {
  const revoked = await ctx.store.revokeSession(
    sessionId,
    ctx.clock.now(),
    reason,
    emitWhenDelivering(ctx, (ended) => sessionRevokedEvents([ended], reason)),
  );
  if (!revoked) return false;
  await announceRevoked(ctx, [revoked], reason);
  return true;
}

/**
 * Ends the session a refresh token names (any generation the server issued: its holder may end it).
 * Throws `invalid_grant` for a token the server never issued.
 */
export async function logoutWithRefreshToken(ctx: EngineContext, refreshToken: string): Promise<string> {
  const { session } = await findIssuedSession(ctx, refreshToken);
  await revokeSession(ctx, session.id, 'logout');
  return session.id;
}

/**
 * Ends the session a session handle names (`expired-token-exchange` logout); returns its id.
 * Throws `invalid_grant` for a handle the server never issued.
 */
export async function logoutWithSessionHandle(ctx: EngineContext, handle: string): Promise<string> {
  const sessionId = parseSessionHandle(handle);
  const session = sessionId ? await ctx.store.findSession(sessionId) : null;
  if (!session || !sessionHandleMatches(ctx.keys.refreshMacKey, handle, session)) {
    throw new TesseraError('invalid_grant', 'The session cookie is invalid.');
  }
  await revokeSession(ctx, session.id, 'logout');
  return session.id;
}

/**
 * RFC 7009 revocation: ends the session of an access or refresh token, but only of a token
 * introspection calls active (RFC 7009 §2.1 asks to revoke a valid token). A token refused everywhere
 * else (from before a password change, of an outdated version, of an ended session, a retired refresh
 * token past its grace) ends nothing, so it cannot log the owner out. Unknown tokens are ignored
 * (§2.2); only a store failure throws.
 */
export async function revokeToken(ctx: EngineContext, token: string): Promise<void> {
  try {
    if (typeof token === 'string' && token.startsWith(REFRESH_TOKEN_PREFIX)) {
      const { session, generation } = await findIssuedSession(ctx, token);
      if (refreshTokenUsable(ctx, session, generation, ctx.clock.now())) {
        await revokeSession(ctx, session.id, 'logout');
      }
      return;
    }
    const auth = await authenticate(ctx, token);
    await revokeSession(ctx, auth.session.id, 'logout');
  } catch (error) {
    if (isTesseraError(error) && error.status < 500) return;
    throw error;
  }
}

/** Ends every session of a user except `exceptSessionId`; returns how many ended. */
export async function revokeUserSessions(
  ctx: EngineContext,
  userId: string,
  reason: RevokeReason,
  exceptSessionId?: string,
): Promise<number> {
  const revoked = await ctx.store.revokeUserSessions(userId, ctx.clock.now(), reason, {
    ...(exceptSessionId === undefined ? {} : { exceptSessionId }),
    emit: emitWhenDelivering(ctx, (ended) => sessionRevokedEvents(ended, reason)),
  });
  await announceRevoked(ctx, revoked, reason);
  return revoked.length;
}

/**
 * Ends one of the user's own sessions (the device list). Returns `false` when the user has no such
 * live session, so another user's session id reveals nothing.
 */
export async function revokeOwnSession(
  ctx: EngineContext,
  userId: string,
  sessionId: string,
): Promise<boolean> {
  const session = await ctx.store.findSession(sessionId);
  if (!session || session.userId !== userId || session.revokedAtMs !== null) return false;
  return revokeSession(ctx, sessionId, 'device_revoked');
}

/**
 * Emergency revoke-all (a key compromise): ends every session and makes verifiers refuse every
 * token issued before now. Returns the instant and the number of sessions ended.
 */
export async function emergencyRevokeAll(ctx: EngineContext): Promise<{ notBefore: Date; sessions: number }> {
  const atMs = ctx.clock.now();
  const sessions = await ctx.store.emergencyRevokeAll(atMs);
  ctx.onEvent({ type: 'revocation.emergency', notBeforeMs: atMs, atMs });
  await ctx.bus
    .publish({ kind: 'global', notBeforeMs: atMs, untilMs: accessTokenHorizonMs(ctx, atMs), atMs })
    .catch(() => undefined);
  return { notBefore: new Date(atMs), sessions };
}

/** Rejects a missing or blank id early with a clear error. */
export function assertSessionId(sessionId: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(sessionId)) {
    throw new TesseraError('session_not_found', 'No such session.');
  }
}
