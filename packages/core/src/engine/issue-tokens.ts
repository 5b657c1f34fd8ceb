import type { SessionRecord, UserRecord } from '../store/store.ts';
import { mintAccessToken } from '../tokens/access-token.ts';
import type { ActiveSigningKey } from '../tokens/keyring.ts';
import { mintRefreshToken, mintSessionHandle } from '../tokens/refresh-token.ts';
import { type EngineContext, sessionLimitMs } from './context.ts';
import { sessionAcr } from './step-up.ts';
import { profileClaims } from './views.ts';

/** Access and refresh tokens for one session, as the token endpoint returns them. */
export interface TokenSet {
  /** `DPoP` when the session is bound to a DPoP key (RFC 9449 §5): the access token carries `cnf.jkt`. */
  tokenType: 'Bearer' | 'DPoP';
  accessToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  /** The rotating refresh token; `null` under policies that issue none (`settings.issuesRefreshToken`). */
  refreshToken: string | null;
  /** The session handle, sent as the session cookie (`settings.issuesSessionHandle`); else `null`. */
  sessionHandle: string | null;
  /** Seconds until the soft expiry (policies with one: `settings.softTtlSeconds`); else `null`. */
  softExpiresIn: number | null;
  /** When the refresh token (or session handle) stops working: the session's idle or absolute expiry. */
  refreshExpiresAt: Date;
  sessionId: string;
  userId: string;
}

/** A lone access token (a profile change, a sliding renewal) and its lifetime in seconds. */
export interface AccessGrant {
  accessToken: string;
  expiresIn: number;
  /** Seconds until its soft expiry, under a policy with one (`soft-expiry`). */
  softExpiresIn?: number;
}

/**
 * The latest value a reissued token may carry for `exp` and each of the policy's time claims
 * (`softexp`), in seconds: a token minted outside a rotation never lives longer than the one it replaces.
 */
export type TimeLimits = Readonly<Record<string, number>>;

/**
 * Mints what the policy hands out for `session` at `generation`: the access token (or awaits `signed`,
 * one already requested), plus the refresh token and/or session handle the policy issues.
 */
export async function issueTokens(
  ctx: EngineContext,
  user: UserRecord,
  session: SessionRecord,
  generation: number,
  signed?: Promise<AccessGrant>,
): Promise<TokenSet> {
  const access = await (signed ?? issueAccessToken(ctx, user, session, generation));
  return {
    tokenType: session.dpopJkt === null ? 'Bearer' : 'DPoP',
    accessToken: access.accessToken,
    expiresIn: access.expiresIn,
    refreshToken: ctx.policy.issuesRefreshToken
      ? mintRefreshToken(ctx.keys.refreshMacKey, session.id, generation, session.salt)
      : null,
    sessionHandle: ctx.policy.issuesSessionHandle ? mintSessionHandle(ctx.keys.refreshMacKey, session) : null,
    softExpiresIn: ctx.softTtlSeconds,
    refreshExpiresAt: new Date(Math.min(session.idleExpiresAtMs, session.absoluteExpiresAtMs)),
    sessionId: session.id,
    userId: user.id,
  };
}

/**
 * Signs an access token for `session` at `generation` with `key` in hand: the signature is requested
 * before this returns (the promise only waits for it), so a caller can have it made while its store
 * write commits. `exp` is the access TTL from now, but never past the session's limits
 * ({@link sessionLimitMs}); with `limits`, `exp` and the policy's time claims are capped by them too.
 */
export async function signAccessToken(
  ctx: EngineContext,
  key: ActiveSigningKey,
  user: UserRecord,
  session: SessionRecord,
  generation: number,
  limits?: TimeLimits,
): Promise<AccessGrant> {
  const iat = Math.floor(ctx.clock.now() / 1000);
  const extraClaims = ctx.policy.extraClaims({
    generation,
    issuedAtSeconds: iat,
    softTtlSeconds: ctx.softTtlSeconds,
  });
  // A token never outlives its session's hard limits as they stand: a verifier, which cannot see the
  // session, then agrees with this server about when the token stops working.
  let exp = Math.min(iat + ctx.accessTtlSeconds, Math.floor(sessionLimitMs(ctx, session) / 1000));
  if (limits) {
    exp = Math.min(exp, limits.exp ?? exp);
    for (const claim of ctx.policy.timeClaims) {
      const value = extraClaims[claim];
      const limit = limits[claim];
      if (typeof value === 'number' && limit !== undefined) extraClaims[claim] = Math.min(value, limit);
    }
  }
  // RFC 9449 §6.1: a bound session's tokens name the key; verifiers then ask for a proof by it.
  if (session.dpopJkt !== null) extraClaims.cnf = { jkt: session.dpopJkt };
  const access = await mintAccessToken(key, ctx.signer, {
    extraClaims,
    issuer: ctx.issuer,
    audience: ctx.audience,
    clientId: ctx.clientId,
    issuedAtSeconds: iat,
    expiresAtSeconds: exp,
    userId: user.id,
    sessionId: session.id,
    tokenVersion: user.tokenVersion,
    authTimeMs: session.authTimeMs,
    amr: session.amr,
    acr: sessionAcr(session),
    roles: user.roles,
    emailVerified: user.emailVerified,
    profile: profileClaims(user, ctx.profileFields),
  });
  const grant: AccessGrant = { accessToken: access.token, expiresIn: exp - iat };
  if (typeof extraClaims.softexp === 'number') grant.softExpiresIn = extraClaims.softexp - iat;
  return grant;
}

/** Mints only an access token for `session` at `generation` (default: its current one), full lifetime. */
export async function issueAccessToken(
  ctx: EngineContext,
  user: UserRecord,
  session: SessionRecord,
  generation: number = session.generation,
): Promise<AccessGrant> {
  return signAccessToken(ctx, await ctx.keyring.signingKey(), user, session, generation);
}

/**
 * The limits of the access token `session`'s current generation got when it was minted (at the last
 * rotation or sign-in): a token reissued for the session without a rotation must not outlive it.
 */
export function currentTokenLimits(ctx: EngineContext, session: SessionRecord): TimeLimits {
  const iat = Math.floor(session.rotatedAtMs / 1000);
  const limits: Record<string, number> = { exp: iat + ctx.accessTtlSeconds };
  const claims = ctx.policy.extraClaims({
    generation: session.generation,
    issuedAtSeconds: iat,
    softTtlSeconds: ctx.softTtlSeconds,
  });
  for (const claim of ctx.policy.timeClaims) {
    const value = claims[claim];
    if (typeof value === 'number') limits[claim] = value;
  }
  return limits;
}

/** The limits a presented token's own claims set (`exp` and the policy's time claims it carries). */
export function presentedTokenLimits(ctx: EngineContext, claims: Record<string, unknown>): TimeLimits {
  const limits: Record<string, number> = {};
  for (const claim of ['exp', ...ctx.policy.timeClaims]) {
    const value = claims[claim];
    if (typeof value === 'number') limits[claim] = value;
  }
  return limits;
}

/**
 * A fresh access token for `session` carrying `user`'s current claims, within `limits` (the earlier of
 * each): for claims changes, which must never extend a token's life. `null` when the limits leave it
 * no life at all.
 */
export async function reissueAccessToken(
  ctx: EngineContext,
  user: UserRecord,
  session: SessionRecord,
  ...limits: TimeLimits[]
): Promise<AccessGrant | null> {
  const merged: Record<string, number> = {};
  for (const set of limits) {
    for (const [claim, value] of Object.entries(set)) merged[claim] = Math.min(merged[claim] ?? value, value);
  }
  if ((merged.exp ?? Number.POSITIVE_INFINITY) <= Math.floor(ctx.clock.now() / 1000)) return null;
  return signAccessToken(ctx, await ctx.keyring.signingKey(), user, session, session.generation, merged);
}
