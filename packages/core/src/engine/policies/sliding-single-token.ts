import type { BearerRecords } from '../authenticate.ts';
import { type EngineContext, rotationUpdate, sessionEndReason } from '../context.ts';
import { type AccessGrant, issueAccessToken } from '../issue-tokens.ts';
import { definePolicy, type RenewClient, type SessionPolicy } from './session-policy.ts';

/**
 * Once the presented token is past half its life, a new one for the same live session (the idle expiry
 * slides, like a refresh); `null` while the token is young. Renewal is bounded by the session row, so
 * logout, revocation and the session's limits still end it.
 */
async function slide(
  ctx: EngineContext,
  bearer: BearerRecords,
  client: RenewClient,
): Promise<AccessGrant | null> {
  const nowMs = ctx.clock.now();
  const { claims, user } = bearer;
  const halfLifeMs = ((claims.exp - claims.iat) * 1000) / 2;
  if (nowMs < claims.iat * 1000 + halfLifeMs) return null;
  if (sessionEndReason(ctx, bearer.session, nowMs) !== null || user.reauthRequired) return null;
  const rotated = await ctx.store.rotateSession(
    bearer.session.id,
    bearer.session.generation,
    rotationUpdate(ctx, bearer.session, nowMs, client),
  );
  // A concurrent request renewed it first: its token is as good; ours may still be minted.
  const session = rotated ?? (await ctx.store.findSession(bearer.session.id));
  if (!session || sessionEndReason(ctx, session, nowMs) !== null) return null;
  return issueAccessToken(ctx, user, session);
}

/**
 * `sliding-single-token`: one short access token (15 minutes), re-issued by the server on a response
 * once past half its life, while the session is within its idle and absolute limits.
 */
export const slidingSingleToken: SessionPolicy = definePolicy({
  name: 'sliding-single-token',
  accessTtl: { defaultSeconds: 900, minSeconds: 1, maxSeconds: 86_400 },
  issuesRefreshToken: false,
  issuesSessionHandle: false,
  renewal: 'sliding',
  slide,
});
