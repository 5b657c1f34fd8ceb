import type { Clock } from '../clock.ts';
import { type SessionEndedReason, TesseraError } from '../errors.ts';
import type { TesseraEvent } from '../events.ts';
import { rateLimitClientKey } from '../internal/client-ip.ts';
import type { PasswordHasher } from '../password.ts';
import type { RateLimiter, RateLimitRule } from '../rate-limit.ts';
import type { RevocationBus } from '../revocation-bus.ts';
import type { RevokeReason, RotationUpdate, SessionRecord, Store, UserRecord } from '../store/store.ts';
import { sanitizeHeaderText } from '../text.ts';
import type { AccessTokenClaims } from '../tokens/access-token.ts';
import type { JwsSigner } from '../tokens/jws-signer.ts';
import type { Keyring } from '../tokens/keyring.ts';
import type { DerivedKeys } from '../tokens/secret.ts';
import type { ResolvedEngineOptions } from './options.ts';
import { wakeOutbox } from './outbox-worker.ts';
import type { SessionPolicy } from './policies/session-policy.ts';
import type { RateLimits } from './rate-limits.ts';
import { emitWhenDelivering, reuseDetectedEvent, sessionRevokedEvents } from './webhook-events.ts';

/** Longest user agent kept on a session (code points). */
export const USER_AGENT_MAX_LENGTH = 512;
/** Longest client address kept on a session (an IPv6 address with a zone fits). */
export const IP_MAX_LENGTH = 64;

/** The resolved settings and shared parts of one engine. Internal: never leaves the engine. */
export interface EngineContext {
  readonly options: ResolvedEngineOptions;
  readonly policy: SessionPolicy;
  readonly store: Store;
  readonly keys: DerivedKeys;
  readonly keyring: Keyring;
  readonly signer: JwsSigner;
  readonly clock: Clock;
  readonly bus: RevocationBus;
  readonly hasher: PasswordHasher;
  readonly limiter: RateLimiter;
  readonly limits: Readonly<RateLimits> | false;
  readonly issuer: string;
  readonly audience: string;
  readonly clientId: string;
  readonly accessTtlSeconds: number;
  /** The soft lifetime of access tokens, or `null` when the policy has none. */
  readonly softTtlSeconds: number | null;
  readonly idleTtlMs: number;
  readonly absoluteTtlMs: number;
  readonly graceMs: number;
  readonly leewaySeconds: number;
  readonly maxSessionsPerUser: number;
  readonly maxLoginAgeMs: number;
  readonly endSessionsOnPasswordChange: boolean;
  readonly profileFields: readonly string[];
  readonly onEvent: (event: TesseraEvent) => void;
  /**
   * The records behind each `Authenticated` this engine returned (see `bearerRecords`): the app holds
   * the public shapes, the engine keeps what it loaded.
   */
  readonly authenticated: WeakMap<
    object,
    { claims: AccessTokenClaims; session: SessionRecord; user: UserRecord }
  >;
}

/** Builds the context of an engine from its resolved options and the parts made from them. */
export function createEngineContext(
  options: ResolvedEngineOptions,
  policy: SessionPolicy,
  parts: { keys: DerivedKeys; keyring: Keyring; signer: JwsSigner; hasher: PasswordHasher },
): EngineContext {
  const listener = options.onEvent;
  return {
    ...parts,
    options,
    policy,
    store: options.store,
    clock: options.clock,
    bus: options.bus,
    limiter: options.rateLimiter,
    limits: options.rateLimits,
    issuer: options.issuer,
    audience: options.audience,
    clientId: options.clientId,
    accessTtlSeconds: options.accessTtlSeconds,
    softTtlSeconds: options.softTtlSeconds,
    idleTtlMs: options.refreshIdleTtlSeconds * 1000,
    absoluteTtlMs: options.refreshAbsoluteTtlSeconds * 1000,
    graceMs: options.reuseGraceSeconds * 1000,
    leewaySeconds: options.clockLeewaySeconds,
    maxSessionsPerUser: options.maxSessionsPerUser,
    maxLoginAgeMs: options.maxLoginAgeSeconds * 1000,
    endSessionsOnPasswordChange: options.endSessionsOnPasswordChange,
    profileFields: options.profileFields,
    authenticated: new WeakMap(),
    onEvent: (event) => {
      try {
        listener?.(event);
      } catch {
        // A failing listener must never fail the request that caused the event.
      }
    },
  };
}

/** The latest instant an access token minted at `fromMs` could still be accepted. */
export function accessTokenHorizonMs(ctx: EngineContext, fromMs: number): number {
  return fromMs + (ctx.accessTtlSeconds + ctx.leewaySeconds) * 1000;
}

/**
 * Tells listeners and the revocation bus that sessions ended (and wakes the outbox worker: the write
 * that ended them committed their `session.revoked` events).
 */
export async function announceRevoked(
  ctx: EngineContext,
  sessions: readonly SessionRecord[],
  reason: RevokeReason,
): Promise<void> {
  if (sessions.length > 0) wakeOutbox(ctx);
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

/**
 * Counts one attempt against each rule for `key`, atomically in the limiter, and throws
 * `rate_limited` when any refuses. Called BEFORE the work it guards, so parallel attempts cannot all
 * slip in before the first is counted.
 */
export async function countAttempt(
  ctx: EngineContext,
  key: string,
  rules: readonly RateLimitRule[],
): Promise<void> {
  const nowMs = ctx.clock.now();
  for (const rule of rules) {
    const decision = await ctx.limiter.hit(`${key}:${rule.windowSeconds}`, rule, nowMs);
    if (!decision.allowed) {
      throw new TesseraError('rate_limited', 'Too many attempts; wait before trying again.', {
        retryAfterSeconds: decision.retryAfterSeconds,
      });
    }
  }
}

/** Forgets the attempts counted for `key` (after a success). */
export async function forgetAttempts(
  ctx: EngineContext,
  key: string,
  rules: readonly RateLimitRule[],
): Promise<void> {
  for (const rule of rules) await ctx.limiter.reset(`${key}:${rule.windowSeconds}`);
}

/** The rate-limit key of a client IP for `scope` (IPv6 by /64, IPv4-mapped as IPv4). */
export function ipKey(scope: string, ip: string | null | undefined): string {
  return `${scope}:ip:${rateLimitClientKey(ip)}`;
}

/** The rate-limit key of an account's password attempts (login, password change): its normalized email. */
export function accountKey(email: string | null, userId: string | null): string {
  return email === null ? `login:user:${userId ?? '-'}` : `login:account:${email}`;
}

/**
 * When `session` ends unless something renews it: its idle or absolute expiry, or the maximum login age,
 * whichever comes first.
 */
export function sessionLimitMs(ctx: EngineContext, session: SessionRecord): number {
  const loginLimitMs =
    ctx.maxLoginAgeMs > 0 ? session.authTimeMs + ctx.maxLoginAgeMs : Number.POSITIVE_INFINITY;
  return Math.min(session.idleExpiresAtMs, session.absoluteExpiresAtMs, loginLimitMs);
}

/**
 * Why a session can no longer be used at `nowMs`, or `null` while it is live: its revocation
 * (`revoked`, `reuse_detected`, `reauthentication_required`), else `expired` past its idle or absolute
 * expiry or the maximum login age.
 */
export function sessionEndReason(
  ctx: EngineContext,
  session: SessionRecord,
  nowMs: number,
): SessionEndedReason | null {
  if (session.revokedAtMs !== null) {
    if (session.revokeReason === 'reuse_detected') return 'reuse_detected';
    if (session.revokeReason === 'reauthentication_required') return 'reauthentication_required';
    return 'revoked';
  }
  if (nowMs >= sessionLimitMs(ctx, session)) return 'expired';
  return null;
}

/** The `invalid_grant` a renewal of an ended session answers, with the reason clients show. */
export function sessionEndedError(reason: SessionEndedReason): TesseraError {
  if (reason === 'reauthentication_required') {
    return new TesseraError('invalid_grant', 'The user must log in again.', { sessionEnded: reason });
  }
  return new TesseraError('invalid_grant', 'The session has ended; log in again.', { sessionEnded: reason });
}

/**
 * Reuse detected: revokes the session (reason `reuse_detected`), emits `session.reuse_detected` (with
 * the presenter's IP and user agent, and the webhook events in the same write) and publishes the
 * revocation. Idempotent: a session already revoked is left as it is.
 */
export async function revokeForReuse(
  ctx: EngineContext,
  sessionId: string,
  generation: number,
  presenter: { ip?: string | null | undefined; userAgent?: string | null | undefined } = {},
): Promise<void> {
  const nowMs = ctx.clock.now();
  const revoked = await ctx.store.revokeSession(
    sessionId,
    nowMs,
    'reuse_detected',
    emitWhenDelivering(ctx, (session) => [
      reuseDetectedEvent(
        session,
        {
          ip: sanitizeHeaderText(presenter.ip, IP_MAX_LENGTH),
          userAgent: sanitizeHeaderText(presenter.userAgent, USER_AGENT_MAX_LENGTH),
        },
        nowMs,
      ),
      ...sessionRevokedEvents([session], 'reuse_detected'),
    ]),
  );
  if (!revoked) return;
  ctx.onEvent({ type: 'session.reuse_detected', sessionId, userId: revoked.userId, generation, atMs: nowMs });
  await announceRevoked(ctx, [revoked], 'reuse_detected');
}

/**
 * True when the predecessor of the session's current generation, presented at `nowMs`, is still in its
 * grace window: `-leeway ≤ now − rotatedAt < grace`. The lower bound keeps a wall clock that stepped
 * back from holding a retired token open for as long as the step.
 */
export function inGraceWindow(ctx: EngineContext, session: SessionRecord, nowMs: number): boolean {
  const sinceRotationMs = nowMs - session.rotatedAtMs;
  return sinceRotationMs >= -ctx.leewaySeconds * 1000 && sinceRotationMs < ctx.graceMs;
}

/**
 * What a rotation writes at `nowMs`: the idle expiry slid (never past the absolute one) and the
 * client's IP and user agent, keeping the session's own where the client sent none.
 */
export function rotationUpdate(
  ctx: EngineContext,
  session: SessionRecord,
  nowMs: number,
  client: { ip?: string | null | undefined; userAgent?: string | null | undefined } = {},
): RotationUpdate {
  return {
    nowMs,
    idleExpiresAtMs: Math.min(nowMs + ctx.idleTtlMs, session.absoluteExpiresAtMs),
    ip: sanitizeHeaderText(client.ip, IP_MAX_LENGTH) ?? session.ip,
    userAgent: sanitizeHeaderText(client.userAgent, USER_AGENT_MAX_LENGTH) ?? session.userAgent,
  };
}
