import { TesseraError } from '../errors.ts';
import { assertInputObject } from '../internal/input.ts';
import type { SessionRecord } from '../store/store.ts';
import { parseRefreshToken, refreshTokenMacMatches } from '../tokens/refresh-token.ts';
import {
  announceRevoked,
  countAttempt,
  type EngineContext,
  inGraceWindow,
  ipKey,
  revokeForReuse,
  rotationUpdate,
  sessionEndedError,
  sessionEndReason,
} from './context.ts';
import { assertRenewalBinding, checkDpopJkt } from './dpop.ts';
import { issueTokens, signAccessToken, type TokenSet } from './issue-tokens.ts';
import { emitWhenDelivering, sessionRevokedEvents } from './webhook-events.ts';

/** Input of `refresh`. */
export interface RefreshInput {
  refreshToken: string;
  /** The client's IP address (rate limits group IPv6 by /64). */
  ip?: string | null | undefined;
  userAgent?: string | null | undefined;
  /**
   * RFC 9449: the SHA-256 JWK thumbprint of the request's verified DPoP proof (`engine.verifyDpopProof`).
   * A bound session is refreshed only with its own key; an unbound one is bound to this key now.
   */
  dpopJkt?: string | null | undefined;
}

const INVALID = 'The refresh token is invalid.';

/**
 * Finds the session a refresh token names and proves the server issued it (MAC over session id,
 * generation and the session's salt). Anything else is `invalid_grant` and changes nothing: knowing a
 * session id alone must never let anyone touch that session.
 */
export async function findIssuedSession(
  ctx: EngineContext,
  refreshToken: string,
): Promise<{ session: SessionRecord; generation: number }> {
  const parsed = parseRefreshToken(refreshToken);
  if (!parsed) throw new TesseraError('invalid_grant', INVALID);
  const session = await ctx.store.findSession(parsed.sessionId);
  if (!session || !refreshTokenMacMatches(ctx.keys.refreshMacKey, parsed, session.salt)) {
    throw new TesseraError('invalid_grant', INVALID);
  }
  if (parsed.generation > session.generation) throw new TesseraError('invalid_grant', INVALID);
  return { session, generation: parsed.generation };
}

/**
 * True when a refresh token of `generation` is usable at `nowMs`: the session is live and the token is
 * its current generation, or the predecessor within the grace window. Introspection and revocation
 * (RFC 7662, RFC 7009) both ask this, so they agree with refresh on which tokens are live.
 */
export function refreshTokenUsable(
  ctx: EngineContext,
  session: SessionRecord,
  generation: number,
  nowMs: number,
): boolean {
  const current =
    generation === session.generation ||
    (generation === session.generation - 1 && inGraceWindow(ctx, session, nowMs));
  return current && sessionEndReason(ctx, session, nowMs) === null;
}

/**
 * Refresh-token rotation with reuse detection (docs/concepts: rotation):
 * 1. the current generation rotates, by compare-and-set, so two concurrent calls never both rotate;
 * 2. the generation retired by the latest rotation, within the grace window, gets the same successor
 *    (a concurrent tab, or a retry after a lost response) and raises no alarm;
 * 3. any older generation, or the predecessor after the grace window, is reuse: the whole session
 *    is revoked and `session.reuse_detected` is emitted.
 */
export async function refreshSession(ctx: EngineContext, input: RefreshInput): Promise<TokenSet> {
  assertInputObject(input);
  if (ctx.limits) await countAttempt(ctx, ipKey('refresh', input.ip), ctx.limits.refreshPerIp);
  const found = await findIssuedSession(ctx, input.refreshToken);
  let session = found.session;
  const { generation } = found;
  if (ctx.limits) await countAttempt(ctx, `refresh:session:${session.id}`, ctx.limits.refreshPerSession);
  const dpopJkt = checkDpopJkt(input.dpopJkt);

  for (let attempt = 0; attempt < 5; attempt += 1) {
    const nowMs = ctx.clock.now();
    const ended = sessionEndReason(ctx, session, nowMs);
    if (ended !== null) throw sessionEndedError(ended);
    // Before reuse detection: a token without its key is refused and reported, never a reason to end
    // the session (whoever replays it cannot use it, and the owner's next refresh must still work).
    await assertRenewalBinding(ctx, session, { ...input, dpopJkt });
    const user = await ctx.store.findUserById(session.userId);
    if (!user || user.disabled) {
      const revoked = await ctx.store.revokeSession(
        session.id,
        nowMs,
        'account_disabled',
        emitWhenDelivering(ctx, (ended) => sessionRevokedEvents([ended], 'account_disabled')),
      );
      if (revoked) await announceRevoked(ctx, [revoked], 'account_disabled');
      throw new TesseraError('invalid_grant', 'The account is disabled.', { sessionEnded: 'revoked' });
    }
    if (user.reauthRequired) {
      const revoked = await ctx.store.revokeSession(
        session.id,
        nowMs,
        'reauthentication_required',
        emitWhenDelivering(ctx, (ended) => sessionRevokedEvents([ended], 'reauthentication_required')),
      );
      if (revoked) await announceRevoked(ctx, [revoked], 'reauthentication_required');
      throw sessionEndedError('reauthentication_required');
    }

    if (generation === session.generation) {
      // The access token does not depend on how the rotation goes, only on whether it succeeds: it is
      // signed (on the signing thread) while the rotation commits, and dropped if the rotation lost.
      const key = await ctx.keyring.signingKey();
      const update = rotationUpdate(ctx, session, nowMs, input);
      // RFC 9449 §5: an unbound session refreshed with a proof is bound from now on (the store's
      // compare-and-set refuses it if another key bound it meanwhile).
      if (dpopJkt !== null && session.dpopJkt === null) update.dpopJkt = dpopJkt;
      // Signed with the idle expiry the rotation is about to write, which bounds the token's life.
      const signed = signAccessToken(
        ctx,
        key,
        user,
        { ...session, idleExpiresAtMs: update.idleExpiresAtMs, dpopJkt: session.dpopJkt ?? dpopJkt },
        generation + 1,
      );
      signed.catch(() => {});
      const rotated = await ctx.store.rotateSession(session.id, generation, update);
      if (rotated) {
        ctx.onEvent({
          type: 'session.refreshed',
          sessionId: rotated.id,
          userId: user.id,
          generation: rotated.generation,
          atMs: nowMs,
        });
        return issueTokens(ctx, user, rotated, rotated.generation, signed);
      }
      // Lost the race to a concurrent rotation (or a revocation): look again.
      const reloaded = await ctx.store.findSession(session.id);
      if (!reloaded) {
        throw new TesseraError('invalid_grant', 'The session has ended; log in again.', {
          sessionEnded: 'revoked',
        });
      }
      session = reloaded;
      continue;
    }

    if (generation === session.generation - 1 && inGraceWindow(ctx, session, nowMs)) {
      return issueTokens(ctx, user, session, session.generation);
    }

    await revokeForReuse(ctx, session.id, generation, input);
    throw new TesseraError(
      'invalid_grant',
      'This refresh token was already used; the session has been ended for safety.',
      { sessionEnded: 'reuse_detected' },
    );
  }
  throw new TesseraError('invalid_grant', 'The refresh token could not be rotated; try again.');
}
