import { describeUserAgent } from '../device-name.ts';
import { TesseraError } from '../errors.ts';
import { normalizeEmail } from '../internal/email.ts';
import { assertInputObject } from '../internal/input.ts';
import { assertAcceptablePassword, assertPasswordText, PASSWORD_MAX_LENGTH } from '../password.ts';
import type { SessionRecord, UserRecord } from '../store/store.ts';
import { codePointLength, normalizeDisplayText, sanitizeHeaderText } from '../text.ts';
import { newSessionId, newSessionSalt } from '../tokens/refresh-token.ts';
import {
  accountKey,
  announceRevoked,
  countAttempt,
  type EngineContext,
  forgetAttempts,
  IP_MAX_LENGTH,
  ipKey,
  USER_AGENT_MAX_LENGTH,
} from './context.ts';
import { deviceFingerprint } from './device-fingerprint.ts';
import { checkDpopJkt } from './dpop.ts';
import { issueTokens, type TokenSet } from './issue-tokens.ts';
import { wakeOutbox } from './outbox-worker.ts';
import {
  acceptSecondFactor,
  authenticationMethods,
  presentedSecondFactor,
  secondFactorRefused,
} from './second-factor.ts';
import { newUserRecord } from './users.ts';
import {
  emitWhenDelivering,
  sessionCreatedEvent,
  sessionRevokedEvents,
  userCreatedEvent,
} from './webhook-events.ts';

/** Where a request came from; stored on the session for the device list. */
export interface ClientInfo {
  /** The client's IP address (rate limits group IPv6 by /64). */
  ip?: string | null | undefined;
  /** The User-Agent header: kept (control and bidi characters replaced) and used to name the device. */
  userAgent?: string | null | undefined;
  /**
   * A name the client chose ("Alice's laptop"): 1 to 100 printable characters, no bidi controls;
   * else one is derived from the user agent.
   */
  deviceName?: string | null | undefined;
  /**
   * A stable id of the browser (the HTTP layer's `tessera_device` cookie), for `session.created`'s
   * `new_device` flag; without one the user agent stands in. Never stored as given (see `deviceFingerprint`).
   */
  deviceId?: string | null | undefined;
  /**
   * RFC 9449: bind the new session to this key, the SHA-256 JWK thumbprint of a DPoP proof the HTTP
   * layer verified (`engine.verifyDpopProof`). Its tokens then carry `cnf.jkt` and its refresh needs a
   * proof by the key. Default: unbound (bearer).
   */
  dpopJkt?: string | null | undefined;
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
  /** A 6-digit TOTP code: with two-factor login on, this or `recoveryCode` is required (ignored otherwise). */
  totp?: string | undefined;
  /** One of the user's unused recovery codes, instead of `totp` (used up). */
  recoveryCode?: string | undefined;
}

/** Longest device name, in code points. */
export const DEVICE_NAME_MAX_LENGTH = 100;

const INVALID_CREDENTIALS = 'The email or password is incorrect.';

/** What a new session stores about its client, checked: a bad device name throws `invalid_request`. */
export function sessionClient(client: ClientInfo): {
  ip: string | null;
  userAgent: string | null;
  deviceName: string | null;
  dpopJkt: string | null;
} {
  const userAgent = sanitizeHeaderText(client.userAgent, USER_AGENT_MAX_LENGTH);
  const deviceName =
    client.deviceName === undefined || client.deviceName === null
      ? describeUserAgent(userAgent)
      : normalizeDisplayText(client.deviceName, 'device_name', DEVICE_NAME_MAX_LENGTH);
  return {
    ip: sanitizeHeaderText(client.ip, IP_MAX_LENGTH),
    userAgent,
    deviceName,
    dpopJkt: checkDpopJkt(client.dpopJkt),
  };
}

/** What a sign-in proved: when the user authenticated (default: now) and the context class, if any. */
export interface SignInProof {
  authTimeMs?: number;
  acr?: string | null;
}

/** A new session of generation 1 for `userId`, starting at `nowMs`. */
export function newSession(
  ctx: EngineContext,
  userId: string,
  client: ReturnType<typeof sessionClient>,
  amr: string[],
  nowMs: number,
  auth: SignInProof = {},
): SessionRecord {
  const absoluteExpiresAtMs = nowMs + ctx.absoluteTtlMs;
  return {
    id: newSessionId(),
    userId,
    createdAtMs: nowMs,
    authTimeMs: auth.authTimeMs ?? nowMs,
    lastSeenAtMs: nowMs,
    idleExpiresAtMs: Math.min(nowMs + ctx.idleTtlMs, absoluteExpiresAtMs),
    absoluteExpiresAtMs,
    ...client,
    amr,
    acr: auth.acr ?? null,
    generation: 1,
    rotatedAtMs: nowMs,
    salt: newSessionSalt(),
    revokedAtMs: null,
    revokeReason: null,
  };
}

/**
 * Creates a session for `user` and its first tokens (generation 1), evicting past the cap; with a
 * delivery target, `session.created` (and `session.revoked` for evictions) go to the outbox in the same
 * write. A user flagged for re-authentication first has every older session ended and the flag
 * cleared: this sign-in is the re-authentication. `fingerprint` (see `deviceFingerprint`) sets the
 * event's new-device flag.
 */
export async function openSession(
  ctx: EngineContext,
  user: UserRecord,
  client: ReturnType<typeof sessionClient>,
  amr: string[],
  auth: SignInProof = {},
  fingerprint?: string,
): Promise<TokenSet> {
  const current = user.reauthRequired ? await clearReauthRequired(ctx, user) : user;
  const nowMs = ctx.clock.now();
  const session = newSession(ctx, current.id, client, amr, nowMs, auth);
  const { evicted } = await ctx.store.createSession(session, {
    maxPerUser: ctx.maxSessionsPerUser,
    ...(fingerprint === undefined ? {} : { deviceFingerprint: fingerprint }),
    emit: emitWhenDelivering(ctx, (result) => [
      ...sessionRevokedEvents(result.evicted, 'evicted'),
      sessionCreatedEvent(session, result.newDevice),
    ]),
  });
  ctx.onEvent({ type: 'session.created', sessionId: session.id, userId: current.id, atMs: nowMs });
  await announceRevoked(ctx, evicted, 'evicted');
  wakeOutbox(ctx);
  return issueTokens(ctx, current, session, 1);
}

/** Ends every session from before a forced re-authentication and clears the flag; returns the user. */
async function clearReauthRequired(ctx: EngineContext, user: UserRecord): Promise<UserRecord> {
  // Every session from before the flag must re-authenticate too, not only this device.
  const nowMs = ctx.clock.now();
  const revoked = await ctx.store.revokeUserSessions(user.id, nowMs, 'reauthentication_required', {
    emit: emitWhenDelivering(ctx, (ended) => sessionRevokedEvents(ended, 'reauthentication_required')),
  });
  await announceRevoked(ctx, revoked, 'reauthentication_required');
  const cleared = await ctx.store.updateUser(user.id, { reauthRequired: false, updatedAtMs: nowMs });
  return cleared && cleared !== 'email_taken' ? cleared : user;
}

/**
 * Creates a user with a password and its first session, in one store write (a failed write leaves
 * nothing behind). Throws `invalid_email`, `invalid_password`, `common_password`, `invalid_request`
 * (device name), `rate_limited` or `email_taken`.
 */
export async function register(ctx: EngineContext, input: RegisterInput): Promise<TokenSet> {
  assertInputObject(input);
  const email = normalizeEmail(input.email);
  await assertAcceptablePassword(input.password);
  const client = sessionClient(input);
  if (ctx.limits) await countAttempt(ctx, ipKey('login', input.ip), ctx.limits.loginPerIp);
  const passwordHash = await ctx.hasher.hash(input.password);
  const nowMs = ctx.clock.now();
  const user = newUserRecord({ email, passwordHash }, nowMs);
  const session = newSession(ctx, user.id, client, ['pwd'], nowMs);
  const fingerprint = deviceFingerprint(ctx, input);
  const created = await ctx.store.createUser(user, {
    session,
    ...(fingerprint === undefined ? {} : { deviceFingerprint: fingerprint }),
    emit: emitWhenDelivering(ctx, ({ newDevice }) => [
      userCreatedEvent(user),
      sessionCreatedEvent(session, newDevice),
    ]),
  });
  if (created !== 'created') {
    throw new TesseraError('email_taken', 'An account with this email already exists.', { field: 'email' });
  }
  ctx.onEvent({ type: 'user.registered', userId: user.id, atMs: nowMs });
  ctx.onEvent({ type: 'session.created', sessionId: session.id, userId: user.id, atMs: nowMs });
  wakeOutbox(ctx);
  return issueTokens(ctx, user, session, 1);
}

/**
 * Checks an email and password (and, with two-factor login on, a TOTP or recovery code) and starts a
 * session. The attempt is counted against the account before the argon2id verification and the code
 * check (and forgotten after a success), so parallel guesses cannot all be evaluated; an unknown email
 * or a user without a password costs the same verification and gets the same answer. A TOTP code is
 * accepted once per user (never its step again, nor an earlier one), a recovery code once; either makes
 * `amr` `["pwd", "otp", "mfa"]`. Throws `invalid_email`, `invalid_password`, `invalid_request`,
 * `rate_limited`, `invalid_credentials`, `account_disabled`, `totp_required`, `invalid_totp` or
 * `invalid_recovery_code`.
 */
export async function login(ctx: EngineContext, input: LoginInput): Promise<TokenSet> {
  // Shape checks first (a 400 says nothing about which accounts exist), then the credentials.
  assertInputObject(input);
  const email = normalizeEmail(input.email);
  assertPasswordText(input.password);
  if (codePointLength(input.password) > PASSWORD_MAX_LENGTH) {
    throw new TesseraError(
      'invalid_password',
      `The password must be at most ${PASSWORD_MAX_LENGTH} characters.`,
      {
        field: 'password',
      },
    );
  }
  const client = sessionClient(input);
  const factor = presentedSecondFactor(input.totp, input.recoveryCode);
  const key = accountKey(email, null);
  if (ctx.limits) {
    await countAttempt(ctx, ipKey('login', input.ip), ctx.limits.loginPerIp);
    await countAttempt(ctx, key, ctx.limits.loginFailuresPerAccount);
  }
  const user = await ctx.store.findUserByEmail(email);
  const passwordOk = user?.passwordHash
    ? await ctx.hasher.verify(user.passwordHash, input.password)
    : await ctx.hasher.verifyDummy(input.password);
  const fail = (error: TesseraError): never => {
    ctx.onEvent({ type: 'login.failed', userId: user?.id ?? null, atMs: ctx.clock.now() });
    throw error;
  };
  if (!user || !passwordOk) return fail(new TesseraError('invalid_credentials', INVALID_CREDENTIALS));
  // Before the second factor, so a refused login never uses up a code.
  if (user.disabled) throw new TesseraError('account_disabled', 'This account is disabled.');
  const methods = ['pwd'];
  if (user.totpSecret) {
    // Still counted: asking for the code must not refund the attempt, or guesses would be free.
    if (factor === null) {
      throw new TesseraError('totp_required', 'This account requires a one-time code.', { field: 'totp' });
    }
    if (!(await acceptSecondFactor(ctx, user, factor))) return fail(secondFactorRefused(factor));
    methods.push('otp');
  }
  const amr = authenticationMethods(methods);
  if (ctx.limits) await forgetAttempts(ctx, key, ctx.limits.loginFailuresPerAccount);
  return openSession(ctx, user, client, amr, {}, deviceFingerprint(ctx, input));
}
