import { TesseraError } from '../errors.ts';
import { parseSessionHandle, sessionHandleMatches } from '../tokens/refresh-token.ts';
import { type Authenticated, authenticate } from './authenticate.ts';
import {
  type EngineContext,
  issueAccessToken,
  issueTokens,
  revokeForReuse,
  rotationUpdate,
  sessionEnded,
  type TokenSet,
} from './context.ts';
import { endedReason } from './rotate-refresh-token.ts';

/** Where a renewal came from, stored on the session like a refresh. */
export interface RenewClient {
  ip?: string | null;
  userAgent?: string | null;
}

async function refuseReplay(ctx: EngineContext, auth: Authenticated, generation: number): Promise<never> {
  await revokeForReuse(ctx, auth.session.id, generation);
  throw new TesseraError(
    'invalid_grant',
    'This token was already renewed; the session has been ended for safety.',
    { sessionEnded: 'reuse_detected' },
  );
}

/**
 * Renews a token exactly once: rotates the session from the generation the token carries (`gen`), so a
 * second renewal of the same token is reuse and ends the session, like a replayed refresh token.
 */
async function renewOnce(ctx: EngineContext, auth: Authenticated, client: RenewClient): Promise<TokenSet> {
  const nowMs = ctx.clock.now();
  if (sessionEnded(ctx, auth.session, nowMs)) {
    throw new TesseraError('invalid_grant', 'The session has ended; log in again.', {
      sessionEnded: endedReason(auth.session),
    });
  }
  if (auth.user.reauthRequired) {
    throw new TesseraError('invalid_grant', 'The user must log in again.', {
      sessionEnded: 'reauthentication_required',
    });
  }
  const generation = auth.claims.gen;
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation)) {
    throw new TesseraError('invalid_grant', 'This token cannot be renewed.');
  }
  if (generation < auth.session.generation) return refuseReplay(ctx, auth, generation);
  const rotated = await ctx.store.rotateSession(
    auth.session.id,
    generation,
    rotationUpdate(ctx, auth.session, nowMs, client),
  );
  // Lost a race with another renewal of the same token: that is a replay too.
  if (!rotated) return refuseReplay(ctx, auth, generation);
  ctx.onEvent({
    type: 'session.refreshed',
    sessionId: rotated.id,
    userId: rotated.userId,
    generation: rotated.generation,
    atMs: nowMs,
  });
  return issueTokens(ctx, auth.user, rotated, rotated.generation);
}

/**
 * `soft-expiry`: renews a token that is past its soft expiry but not its hard `exp`, of a live session.
 * A token still before its soft expiry is refused (`invalid_request`), as is a hard-expired one.
 */
export async function renewSoftExpired(
  ctx: EngineContext,
  accessToken: string,
  client: RenewClient,
): Promise<TokenSet> {
  if (ctx.policy !== 'soft-expiry')
    throw new TesseraError('invalid_request', 'Renewal is not used by this policy.');
  // A renewal mints the user's current claims, so a token from before a version bump may renew.
  const auth = await authenticate(ctx, accessToken, { allowSoftExpired: true, allowOutdatedVersion: true });
  if (typeof auth.claims.softexp !== 'number' || ctx.clock.now() < auth.claims.softexp * 1000) {
    throw new TesseraError('invalid_request', 'The token is not soft-expired yet; keep using it.');
  }
  return renewOnce(ctx, auth, client);
}

/**
 * `expired-token-exchange`: an expired access token plus the session handle (cookie) buys a new token,
 * once. Never an unexpired token; never without the handle of the token's own session.
 */
export async function exchangeExpiredToken(
  ctx: EngineContext,
  accessToken: string,
  sessionHandle: string,
  client: RenewClient,
): Promise<TokenSet> {
  if (ctx.policy !== 'expired-token-exchange') {
    throw new TesseraError('invalid_request', 'Token exchange is not used by this policy.');
  }
  const sessionId = parseSessionHandle(sessionHandle);
  if (!sessionId) throw new TesseraError('invalid_grant', 'The session cookie is invalid.');
  let auth: Authenticated;
  try {
    auth = await authenticate(ctx, accessToken, { allowExpired: true, allowOutdatedVersion: true });
  } catch (error) {
    if (error instanceof TesseraError && error.code === 'invalid_token') {
      throw new TesseraError('invalid_grant', error.message);
    }
    throw error;
  }
  if (
    auth.session.id !== sessionId ||
    !sessionHandleMatches(ctx.keys.refreshMacKey, sessionHandle, auth.session)
  ) {
    throw new TesseraError('invalid_grant', 'The session cookie does not belong to this token.');
  }
  if (ctx.clock.now() < auth.claims.exp * 1000) {
    throw new TesseraError('invalid_grant', 'Only an expired access token can be exchanged.');
  }
  return renewOnce(ctx, auth, client);
}

/**
 * `sliding-single-token`: once the presented token is past half its life, a new one for the same live
 * session (the idle expiry slides); `null` while the token is young. Renewal is bounded by the session
 * row, so logout and revocation still end it.
 */
export async function slideAccessToken(
  ctx: EngineContext,
  auth: Authenticated,
  client: RenewClient,
): Promise<{ accessToken: string; expiresIn: number } | null> {
  if (ctx.policy !== 'sliding-single-token') return null;
  const nowMs = ctx.clock.now();
  const halfLifeMs = ((auth.claims.exp - auth.claims.iat) * 1000) / 2;
  if (nowMs < auth.claims.iat * 1000 + halfLifeMs) return null;
  if (sessionEnded(ctx, auth.session, nowMs) || auth.user.reauthRequired) return null;
  const rotated = await ctx.store.rotateSession(
    auth.session.id,
    auth.session.generation,
    rotationUpdate(ctx, auth.session, nowMs, client),
  );
  // A concurrent request renewed it first: its token is as good; ours may still be minted.
  const session = rotated ?? (await ctx.store.findSession(auth.session.id));
  if (!session || sessionEnded(ctx, session, nowMs)) return null;
  return issueAccessToken(ctx, auth.user, session);
}
