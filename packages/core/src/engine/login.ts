import { randomBytes } from 'node:crypto';
import { describeUserAgent } from '../device-name.ts';
import { TesseraError } from '../errors.ts';
import { assertAcceptablePassword, normalizeEmail, PASSWORD_MAX_LENGTH } from '../password.ts';
import type { SessionRecord, UserRecord } from '../store/store.ts';
import { newSessionId, newSessionSalt } from '../tokens/refresh-token.ts';
import { verifyTotp } from '../totp.ts';
import {
  announceRevoked,
  type EngineContext,
  enforceRateLimit,
  issueTokens,
  type TokenSet,
} from './context.ts';

/** Where a request came from; stored on the session for the device list. */
export interface ClientInfo {
  ip?: string | null;
  userAgent?: string | null;
  /** A name the client chose ("Alice's laptop"); else one is derived from the user agent. */
  deviceName?: string | null;
}

/** Input of `register`. */
export interface RegisterInput extends ClientInfo {
  email: string;
  password: string;
}

/** Input of `login`. */
export interface LoginInput extends ClientInfo {
  email: string;
  password: string;
  /** A 6-digit TOTP code, required when the user enrolled in two-factor login. */
  totp?: string;
}

const INVALID_CREDENTIALS = 'The email or password is incorrect.';

/** Creates a session for `user` and its first tokens (generation 1). */
export async function startSession(
  ctx: EngineContext,
  user: UserRecord,
  client: ClientInfo,
  amr: string[],
): Promise<TokenSet> {
  const nowMs = ctx.clock.now();
  const absoluteExpiresAtMs = nowMs + ctx.absoluteTtlMs;
  const userAgent = client.userAgent?.slice(0, 512) ?? null;
  const session: SessionRecord = {
    id: newSessionId(),
    userId: user.id,
    createdAtMs: nowMs,
    authTimeMs: nowMs,
    lastSeenAtMs: nowMs,
    idleExpiresAtMs: Math.min(nowMs + ctx.idleTtlMs, absoluteExpiresAtMs),
    absoluteExpiresAtMs,
    ip: client.ip ?? null,
    userAgent,
    deviceName: client.deviceName ?? describeUserAgent(userAgent),
    amr,
    acr: null,
    dpopJkt: null,
    generation: 1,
    rotatedAtMs: nowMs,
    salt: newSessionSalt(),
    revokedAtMs: null,
    revokeReason: null,
  };
  const { evicted } = await ctx.store.createSession(session, { maxPerUser: ctx.maxSessionsPerUser });
  ctx.onEvent({ type: 'session.created', sessionId: session.id, userId: user.id, atMs: nowMs });
  await announceRevoked(ctx, evicted, 'evicted');
  return issueTokens(ctx, user, session, 1);
}

/** Creates a user with a password and starts their first session. */
export async function register(ctx: EngineContext, input: RegisterInput): Promise<TokenSet> {
  const email = normalizeEmail(input.email);
  await assertAcceptablePassword(input.password);
  if (ctx.limits) await enforceRateLimit(ctx, `login:ip:${input.ip ?? '-'}`, ctx.limits.loginPerIp);
  const nowMs = ctx.clock.now();
  const user: UserRecord = {
    id: randomBytes(16).toString('base64url'),
    email,
    emailVerified: false,
    passwordHash: await ctx.hasher.hash(input.password),
    tokenVersion: 1,
    tokenVersionChangedAtMs: null,
    roles: [],
    profile: {},
    disabled: false,
    reauthRequired: false,
    totpSecret: null,
    totpPendingSecret: null,
    totpLastStep: null,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
  };
  if ((await ctx.store.createUser(user)) === 'email_taken') {
    throw new TesseraError('email_taken', 'An account with this email already exists.', { field: 'email' });
  }
  ctx.onEvent({ type: 'user.registered', userId: user.id, atMs: nowMs });
  return startSession(ctx, user, input, ['pwd']);
}

/**
 * Checks an email and password (and TOTP when enrolled) and starts a session. Unknown emails cost
 * the same argon2id verification as known ones. Throws `invalid_credentials`, `totp_required`,
 * `invalid_totp`, `account_disabled` or `rate_limited`.
 */
export async function login(ctx: EngineContext, input: LoginInput): Promise<TokenSet> {
  // Shape checks first (a 400 says nothing about which accounts exist), then the credentials.
  const email = normalizeEmail(input.email);
  if ([...input.password].length > PASSWORD_MAX_LENGTH) {
    throw new TesseraError(
      'invalid_password',
      `The password must be at most ${PASSWORD_MAX_LENGTH} characters.`,
      {
        field: 'password',
      },
    );
  }
  const accountKey = `login:account:${email}`;
  if (ctx.limits) {
    await enforceRateLimit(ctx, `login:ip:${input.ip ?? '-'}`, ctx.limits.loginPerIp);
    await enforceRateLimit(ctx, accountKey, ctx.limits.loginFailuresPerAccount, 'check');
  }
  const user = await ctx.store.findUserByEmail(email);
  const passwordOk = user?.passwordHash
    ? await ctx.hasher.verify(user.passwordHash, input.password)
    : await ctx.hasher.verifyDummy(input.password);
  const fail = async (error: TesseraError): Promise<never> => {
    ctx.onEvent({ type: 'login.failed', userId: user?.id ?? null, atMs: ctx.clock.now() });
    if (ctx.limits) {
      for (const rule of ctx.limits.loginFailuresPerAccount) {
        await ctx.limiter.hit(`${accountKey}:${rule.windowSeconds}`, rule, ctx.clock.now());
      }
    }
    throw error;
  };
  if (!user || !passwordOk) return fail(new TesseraError('invalid_credentials', INVALID_CREDENTIALS));
  const amr = ['pwd'];
  if (user.totpSecret) {
    if (input.totp === undefined) {
      throw new TesseraError('totp_required', 'This account requires a one-time code.', { field: 'totp' });
    }
    if (!verifyTotp(user.totpSecret, input.totp, ctx.clock.now())) {
      return fail(new TesseraError('invalid_totp', 'The one-time code is incorrect.', { field: 'totp' }));
    }
    amr.push('otp');
  }
  if (user.disabled) throw new TesseraError('account_disabled', 'This account is disabled.');
  if (ctx.limits) {
    for (const rule of ctx.limits.loginFailuresPerAccount)
      await ctx.limiter.reset(`${accountKey}:${rule.windowSeconds}`);
  }
  if (user.reauthRequired) {
    // Every session from before the flag must re-authenticate too, not only this device.
    const nowMs = ctx.clock.now();
    const revoked = await ctx.store.revokeUserSessions(user.id, nowMs, 'reauthentication_required');
    await announceRevoked(ctx, revoked, 'reauthentication_required');
    const cleared = await ctx.store.updateUser(user.id, { reauthRequired: false, updatedAtMs: nowMs });
    return startSession(ctx, cleared && cleared !== 'email_taken' ? cleared : user, input, amr);
  }
  return startSession(ctx, user, input, amr);
}
