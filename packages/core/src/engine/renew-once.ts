import type { SessionEndedReason } from '../errors.ts';
import { TesseraError } from '../errors.ts';
import type { BearerRecords } from './authenticate.ts';
import { type EngineContext, revokeForReuse, rotationUpdate, sessionEndedError } from './context.ts';
import { assertRenewalBinding } from './dpop.ts';
import { issueTokens, type TokenSet } from './issue-tokens.ts';
import type { RenewClient } from './policies/session-policy.ts';

async function refuseReplay(ctx: EngineContext, bearer: BearerRecords, generation: number): Promise<never> {
  await revokeForReuse(ctx, bearer.session.id, generation);
  throw new TesseraError(
    'invalid_grant',
    'This token was already renewed; the session has been ended for safety.',
    { sessionEnded: 'reuse_detected' },
  );
}

/**
 * Renews a single token exactly once (`soft-expiry`, `expired-token-exchange`): rotates the session from
 * the generation the token carries (`gen`), so a second renewal of the same token is reuse and ends the
 * session, like a replayed refresh token. Throws `invalid_grant` (with `sessionEnded` when the session
 * is over).
 */
export async function renewOnce(
  ctx: EngineContext,
  bearer: BearerRecords & { ended: SessionEndedReason | null },
  client: RenewClient,
): Promise<TokenSet> {
  if (bearer.ended !== null) throw sessionEndedError(bearer.ended);
  await assertRenewalBinding(ctx, bearer.session, client);
  if (bearer.user.reauthRequired) throw sessionEndedError('reauthentication_required');
  const generation = bearer.claims.gen;
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation)) {
    throw new TesseraError('invalid_grant', 'This token cannot be renewed.');
  }
  if (generation < bearer.session.generation) return refuseReplay(ctx, bearer, generation);
  const nowMs = ctx.clock.now();
  const rotated = await ctx.store.rotateSession(
    bearer.session.id,
    generation,
    rotationUpdate(ctx, bearer.session, nowMs, client),
  );
  // Lost a race with another renewal of the same token: that is a replay too.
  if (!rotated) return refuseReplay(ctx, bearer, generation);
  ctx.onEvent({
    type: 'session.refreshed',
    sessionId: rotated.id,
    userId: rotated.userId,
    generation: rotated.generation,
    atMs: nowMs,
  });
  return issueTokens(ctx, bearer.user, rotated, rotated.generation);
}
