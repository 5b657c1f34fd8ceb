import { type Clock, systemClock } from '../clock.ts';
import { TesseraError } from '../errors.ts';
import type { EventListener, TesseraEvent } from '../events.ts';
import { createPasswordHasher, OWASP_ARGON2ID, type PasswordHasher } from '../password.ts';
import { createMemoryRateLimiter, type RateLimiter, type RateLimitRule } from '../rate-limit.ts';
import { createInProcessBus, type RevocationBus } from '../revocation-bus.ts';
import type { RevokeReason, RotationUpdate, SessionRecord, Store, UserRecord } from '../store/store.ts';
import { mintAccessToken } from '../tokens/access-token.ts';
import type { JwsSigner } from '../tokens/jws-signer.ts';
import type { ActiveSigningKey, Keyring } from '../tokens/keyring.ts';
import { mintRefreshToken, mintSessionHandle } from '../tokens/refresh-token.ts';
import type { DerivedKeys } from '../tokens/secret.ts';
import { DEFAULT_RATE_LIMITS, type EngineOptions, type RateLimits } from './options.ts';
import { POLICY_DEFAULT_ACCESS_TTL_SECONDS, type PolicyName } from './policy.ts';

/** Access and refresh tokens for one session, as the token endpoint returns them. */
export interface TokenSet {
  tokenType: 'Bearer';
  accessToken: string;
  /** Seconds until the access token expires. */
  expiresIn: number;
  /** The rotating refresh token; `null` under single-token policies. */
  refreshToken: string | null;
  /** The session handle of `expired-token-exchange` (sent as the session cookie); else `null`. */
  sessionHandle: string | null;
  /** Seconds until the soft expiry (`soft-expiry` policy); else `null`. */
  softExpiresIn: number | null;
  /** When the refresh token stops working (the session's idle or absolute expiry, the earlier). */
  refreshExpiresAt: Date;
  sessionId: string;
  userId: string;
}

/** Resolved settings and shared parts of one engine. Internal. */
export interface EngineContext {
  store: Store;
  keys: DerivedKeys;
  keyring: Keyring;
  signer: JwsSigner;
  clock: Clock;
  policy: PolicyName;
  /** Soft lifetime of access tokens under `soft-expiry` (seconds). */
  softTtlSeconds: number;
  bus: RevocationBus;
  hasher: PasswordHasher;
  limiter: RateLimiter;
  limits: RateLimits | false;
  issuer: string;
  audience: string;
  clientId: string;
  accessTtlSeconds: number;
  idleTtlMs: number;
  absoluteTtlMs: number;
  graceMs: number;
  leewaySeconds: number;
  maxSessionsPerUser: number;
  maxLoginAgeMs: number;
  endSessionsOnPasswordChange: boolean;
  profileFields: readonly string[];
  onEvent: EventListener;
}

/** Fills defaults into `options`. */
export function resolveEngineContext(
  options: EngineOptions,
  keys: DerivedKeys,
  keyring: Keyring,
  signer: JwsSigner,
): EngineContext {
  const onEvent = options.onEvent;
  return {
    store: options.store,
    keys,
    keyring,
    signer,
    clock: options.clock ?? systemClock,
    policy: options.policy ?? 'rotating-refresh',
    softTtlSeconds:
      options.softTtlSeconds ??
      Math.max(
        1,
        Math.floor(
          (options.accessTtlSeconds ??
            POLICY_DEFAULT_ACCESS_TTL_SECONDS[options.policy ?? 'rotating-refresh']) / 6,
        ),
      ),
    bus: options.bus ?? createInProcessBus(),
    hasher: createPasswordHasher(options.argon2 ?? OWASP_ARGON2ID),
    limiter: options.rateLimiter ?? createMemoryRateLimiter(),
    limits: options.rateLimits === false ? false : (options.rateLimits ?? DEFAULT_RATE_LIMITS),
    issuer: options.issuer,
    audience: options.audience ?? options.issuer,
    clientId: options.clientId ?? 'tessera',
    accessTtlSeconds:
      options.accessTtlSeconds ?? POLICY_DEFAULT_ACCESS_TTL_SECONDS[options.policy ?? 'rotating-refresh'],
    idleTtlMs: (options.refreshIdleTtlSeconds ?? 14 * 86_400) * 1000,
    absoluteTtlMs: (options.refreshAbsoluteTtlSeconds ?? 30 * 86_400) * 1000,
    graceMs: (options.reuseGraceSeconds ?? 10) * 1000,
    leewaySeconds: options.clockLeewaySeconds ?? 2,
    maxSessionsPerUser: options.maxSessionsPerUser ?? 0,
    maxLoginAgeMs: (options.maxLoginAgeSeconds ?? 0) * 1000,
    endSessionsOnPasswordChange: options.endSessionsOnPasswordChange ?? true,
    profileFields: options.profileFields ?? ['name', 'phone_number'],
    onEvent: (event: TesseraEvent) => {
      try {
        onEvent?.(event);
      } catch {
        // A failing listener must never fail the request that caused the event.
      }
    },
  };
}

/** The latest instant an access token minted now could still be accepted. */
export function accessTokenHorizonMs(ctx: EngineContext, fromMs: number): number {
  return fromMs + (ctx.accessTtlSeconds + ctx.leewaySeconds) * 1000;
}

/**
 * Mints what the policy hands out for `session` at `generation`: the access token (or awaits
 * `signed`, one already requested), plus the refresh token (`rotating-refresh`) or the session
 * handle (`expired-token-exchange`).
 */
export async function issueTokens(
  ctx: EngineContext,
  user: UserRecord,
  session: SessionRecord,
  generation: number,
  signed?: Promise<{ accessToken: string; expiresIn: number }>,
): Promise<TokenSet> {
  const access = await (signed ?? issueAccessToken(ctx, user, session, generation));
  return {
    tokenType: 'Bearer',
    accessToken: access.accessToken,
    expiresIn: access.expiresIn,
    refreshToken:
      ctx.policy === 'rotating-refresh'
        ? mintRefreshToken(ctx.keys.refreshMacKey, session.id, generation, session.salt)
        : null,
    sessionHandle:
      ctx.policy === 'expired-token-exchange' ? mintSessionHandle(ctx.keys.refreshMacKey, session) : null,
    softExpiresIn: ctx.policy === 'soft-expiry' ? ctx.softTtlSeconds : null,
    refreshExpiresAt: new Date(Math.min(session.idleExpiresAtMs, session.absoluteExpiresAtMs)),
    sessionId: session.id,
    userId: user.id,
  };
}

/** Mints only an access token for `session` (profile and role changes). */
export async function issueAccessToken(
  ctx: EngineContext,
  user: UserRecord,
  session: SessionRecord,
  generation: number = session.generation,
): Promise<{ accessToken: string; expiresIn: number }> {
  return signAccessToken(ctx, await ctx.keyring.signingKey(), user, session, generation);
}

/**
 * {@link issueAccessToken} with the signing key in hand: the signature is requested before this
 * returns (the promise only waits for it), so a caller can have it made while its store write
 * commits.
 */
export async function signAccessToken(
  ctx: EngineContext,
  key: ActiveSigningKey,
  user: UserRecord,
  session: SessionRecord,
  generation: number,
): Promise<{ accessToken: string; expiresIn: number }> {
  const nowMs = ctx.clock.now();
  // One-shot renewals (soft expiry, expired-token exchange) need the generation the token was minted at.
  const extraClaims: Record<string, unknown> = {};
  if (ctx.policy === 'soft-expiry' || ctx.policy === 'expired-token-exchange') extraClaims.gen = generation;
  if (ctx.policy === 'soft-expiry') extraClaims.softexp = Math.floor(nowMs / 1000) + ctx.softTtlSeconds;
  const access = await mintAccessToken(key, ctx.signer, {
    extraClaims,
    issuer: ctx.issuer,
    audience: ctx.audience,
    clientId: ctx.clientId,
    ttlSeconds: ctx.accessTtlSeconds,
    nowMs,
    userId: user.id,
    sessionId: session.id,
    tokenVersion: user.tokenVersion,
    authTimeMs: session.authTimeMs,
    amr: session.amr,
    roles: user.roles,
    profile: pickProfile(ctx, user),
  });
  return { accessToken: access.token, expiresIn: ctx.accessTtlSeconds };
}

/** The user's profile restricted to the configured public fields. */
export function pickProfile(ctx: EngineContext, user: UserRecord): Record<string, string | null> {
  const profile: Record<string, string | null> = {};
  for (const field of ctx.profileFields) profile[field] = user.profile[field] ?? null;
  return profile;
}

/** Tells listeners and the revocation bus that sessions ended. */
export async function announceRevoked(
  ctx: EngineContext,
  sessions: readonly SessionRecord[],
  reason: RevokeReason,
): Promise<void> {
  for (const session of sessions) {
    const atMs = session.revokedAtMs ?? ctx.clock.now();
    ctx.onEvent({ type: 'session.revoked', sessionId: session.id, userId: session.userId, reason, atMs });
    await ctx.bus
      .publish({
        kind: 'session',
        sid: session.id,
        sub: session.userId,
        untilMs: accessTokenHorizonMs(ctx, atMs),
        atMs,
      })
      .catch(() => {
        // The database already holds the revocation; the bus only speeds its spread.
      });
  }
}

/** Counts a hit against each rule for `key`; throws `rate_limited` when any refuses. */
export async function enforceRateLimit(
  ctx: EngineContext,
  key: string,
  rules: readonly RateLimitRule[],
  mode: 'hit' | 'check' = 'hit',
): Promise<void> {
  const nowMs = ctx.clock.now();
  for (const rule of rules) {
    const decision =
      mode === 'hit'
        ? await ctx.limiter.hit(`${key}:${rule.windowSeconds}`, rule, nowMs)
        : await ctx.limiter.check(`${key}:${rule.windowSeconds}`, rule, nowMs);
    if (!decision.allowed) {
      throw new TesseraError('rate_limited', 'Too many attempts; wait before trying again.', {
        retryAfterSeconds: decision.retryAfterSeconds,
      });
    }
  }
}

/** True when a session can no longer be used at `nowMs` (revoked, idle, absolute or login age). */
export function sessionEnded(ctx: EngineContext, session: SessionRecord, nowMs: number): boolean {
  return (
    session.revokedAtMs !== null ||
    nowMs >= session.idleExpiresAtMs ||
    nowMs >= session.absoluteExpiresAtMs ||
    (ctx.maxLoginAgeMs > 0 && nowMs >= session.authTimeMs + ctx.maxLoginAgeMs)
  );
}

/**
 * Reuse detected: revokes the session (reason `reuse_detected`), emits `session.reuse_detected` and
 * publishes the revocation. Idempotent: a session already revoked is left as it is.
 */
export async function revokeForReuse(
  ctx: EngineContext,
  sessionId: string,
  generation: number,
): Promise<void> {
  const nowMs = ctx.clock.now();
  const revoked = await ctx.store.revokeSession(sessionId, nowMs, 'reuse_detected');
  if (!revoked) return;
  ctx.onEvent({ type: 'session.reuse_detected', sessionId, userId: revoked.userId, generation, atMs: nowMs });
  await announceRevoked(ctx, [revoked], 'reuse_detected');
}

/**
 * What a rotation writes at `nowMs`: the idle expiry slid (never past the absolute one) and the
 * client's IP and user agent, keeping the session's own where the client sent none.
 */
export function rotationUpdate(
  ctx: EngineContext,
  session: SessionRecord,
  nowMs: number,
  client: { ip?: string | null; userAgent?: string | null } = {},
): RotationUpdate {
  return {
    nowMs,
    idleExpiresAtMs: Math.min(nowMs + ctx.idleTtlMs, session.absoluteExpiresAtMs),
    ip: client.ip ?? session.ip,
    userAgent: client.userAgent?.slice(0, 512) ?? session.userAgent,
  };
}
