import { TesseraError } from '../errors.ts';
import { assertInputObject } from '../internal/input.ts';
import { assertAcceptablePassword, assertPasswordText } from '../password.ts';
import type { SessionRecord, UserPatch, UserRecord } from '../store/store.ts';
import { codePointLength, hasControlCharacters } from '../text.ts';
import { type Authenticated, type BearerRecords, bearerRecords } from './authenticate.ts';
import {
  accessTokenHorizonMs,
  accountKey,
  announceRevoked,
  countAttempt,
  type EngineContext,
  forgetAttempts,
  ipKey,
  rotationUpdate,
  sessionEndReason,
} from './context.ts';
import {
  type AccessGrant,
  currentTokenLimits,
  issueTokens,
  presentedTokenLimits,
  reissueAccessToken,
  type TimeLimits,
  type TokenSet,
} from './issue-tokens.ts';
import { wakeOutbox } from './outbox-worker.ts';
import type { RenewClient } from './policies/session-policy.ts';
import { validateProfilePatch } from './profile.ts';
import { type Profile, toProfile } from './views.ts';
import { emitWhenDelivering, passwordChangedEvent, sessionRevokedEvents } from './webhook-events.ts';

async function rotateForFreshTokens(
  ctx: EngineContext,
  user: UserRecord,
  session: SessionRecord,
  client: RenewClient,
): Promise<TokenSet> {
  let current: SessionRecord | null = session;
  for (let attempt = 0; attempt < 5 && current && current.revokedAtMs === null; attempt += 1) {
    const nowMs = ctx.clock.now();
    const rotated = await ctx.store.rotateSession(
      current.id,
      current.generation,
      rotationUpdate(ctx, current, nowMs, client),
    );
    if (rotated) return issueTokens(ctx, user, rotated, rotated.generation);
    current = await ctx.store.findSession(current.id);
  }
  throw new TesseraError('invalid_token', 'The session of this access token has ended.');
}

/**
 * Changes the password after checking the current one. The attempt is counted (per client IP, and
 * against the account like a login) before the argon2id verification and forgotten after a success.
 * Ends every other session of the user (unless configured otherwise), bumps the token version, and
 * returns fresh tokens for the current session. Throws `invalid_request`, `rate_limited`,
 * `invalid_credentials`, `invalid_password` or `common_password`.
 */
export async function changePassword(
  ctx: EngineContext,
  auth: BearerRecords,
  currentPassword: string,
  newPassword: string,
  client: RenewClient = {},
): Promise<TokenSet> {
  const { user, session } = auth;
  assertPasswordText(currentPassword, 'current_password');
  assertPasswordText(newPassword, 'new_password');
  const key = accountKey(user.email, user.id);
  if (ctx.limits) {
    await countAttempt(ctx, ipKey('password', client.ip), ctx.limits.passwordChangePerIp);
    await countAttempt(ctx, key, ctx.limits.loginFailuresPerAccount);
  }
  const passwordOk =
    user.passwordHash === null
      ? await ctx.hasher.verifyDummy(currentPassword)
      : await ctx.hasher.verify(user.passwordHash, currentPassword);
  if (!passwordOk) {
    throw new TesseraError('invalid_credentials', 'The current password is incorrect.', {
      field: 'current_password',
    });
  }
  if (ctx.limits) await forgetAttempts(ctx, key, ctx.limits.loginFailuresPerAccount);
  await assertAcceptablePassword(newPassword, 'new_password');
  const passwordHash = await ctx.hasher.hash(newPassword);
  const nowMs = ctx.clock.now();
  let updated: UserRecord | null;
  if (ctx.endSessionsOnPasswordChange) {
    const changed = await ctx.store.changePassword(
      user.id,
      passwordHash,
      session.id,
      nowMs,
      emitWhenDelivering(ctx, (result) => [
        passwordChangedEvent(result.user, 'change'),
        ...sessionRevokedEvents(result.revoked, 'password_changed'),
      ]),
    );
    updated = changed?.user ?? null;
    if (changed) await announceRevoked(ctx, changed.revoked, 'password_changed');
  } else {
    const result = await ctx.store.updateUser(
      user.id,
      { passwordHash, updatedAtMs: nowMs },
      emitWhenDelivering(ctx, (changed) => [passwordChangedEvent(changed, 'change')]),
    );
    updated = result === 'email_taken' ? null : result;
  }
  wakeOutbox(ctx);
  if (!updated) throw new TesseraError('invalid_token', 'The account no longer exists.');
  ctx.onEvent({ type: 'user.password_changed', userId: user.id, atMs: nowMs });
  return rotateForFreshTokens(ctx, updated, session, client);
}

/** Changes to a user made by the app (roles, profile, status). */
export interface UserUpdate {
  /** Roles carried in access tokens: each 1 to 64 printable characters. */
  roles?: string[] | undefined;
  /** Configured profile fields to set (`null` clears one); checked like a user's own change. */
  profile?: Record<string, string | null> | undefined;
  disabled?: boolean | undefined;
  /** Force re-authentication: every session must log in again. */
  reauthRequired?: boolean | undefined;
  /**
   * Make the change reach the user's other sessions before their access tokens expire: bumps the
   * token version, so verifiers refuse older tokens. Default: true when `roles` change or
   * `reauthRequired` is set.
   */
  bumpTokenVersion?: boolean | undefined;
  /** A session to mint a fresh access token for, carrying the change at once. */
  actingSessionId?: string | undefined;
  /**
   * The authenticated request making the change, instead of `actingSessionId`: its session gets the
   * fresh token, which keeps the presented token's `exp` (and `softexp`).
   */
  acting?: Authenticated | undefined;
}

/** The result of {@link updateUser}. */
export interface UserUpdateResult {
  profile: Profile;
  /**
   * A fresh access token for the acting session, when one was named and is live. It never outlives the
   * token it replaces: a claims change is not a renewal.
   */
  access: AccessGrant | null;
}

const MAX_ROLES = 100;

/** Checks a list of roles: at most 100 names of 1 to 64 printable characters. Throws `invalid_request` (field `roles`). */
export function checkRoles(roles: unknown): string[] {
  const valid =
    Array.isArray(roles) &&
    roles.length <= MAX_ROLES &&
    roles.every(
      (role) =>
        typeof role === 'string' &&
        role.isWellFormed() &&
        codePointLength(role) >= 1 &&
        codePointLength(role) <= 64 &&
        !hasControlCharacters(role),
    );
  if (!valid) {
    throw new TesseraError(
      'invalid_request',
      `The roles must be a list of at most ${MAX_ROLES} names of 1 to 64 printable characters.`,
      { field: 'roles' },
    );
  }
  return [...(roles as string[])];
}

/**
 * Applies a checked change to a user and, for the acting session, reissues an access token with the
 * new claims within the limits of the token it replaces.
 */
export async function applyUserChange(
  ctx: EngineContext,
  userId: string,
  patch: UserPatch,
  acting: { sessionId: string; presented: TimeLimits | null } | null,
): Promise<UserUpdateResult> {
  const nowMs = patch.updatedAtMs;
  const user = await ctx.store.updateUser(userId, patch);
  if (!user || user === 'email_taken') throw new TesseraError('not_found', 'No such user.');
  ctx.onEvent({ type: 'user.updated', userId, tokenVersion: user.tokenVersion, atMs: nowMs });
  if (patch.bumpTokenVersion) {
    await ctx.bus
      .publish({
        kind: 'user',
        sub: userId,
        minVersion: user.tokenVersion,
        untilMs: accessTokenHorizonMs(ctx, nowMs),
        atMs: nowMs,
      })
      .catch(() => undefined);
  }
  if (patch.disabled) {
    const revoked = await ctx.store.revokeUserSessions(userId, nowMs, 'account_disabled', {
      emit: emitWhenDelivering(ctx, (ended) => sessionRevokedEvents(ended, 'account_disabled')),
    });
    await announceRevoked(ctx, revoked, 'account_disabled');
  }
  let access: AccessGrant | null = null;
  if (acting && !user.disabled && !user.reauthRequired) {
    const session = await ctx.store.findSession(acting.sessionId);
    if (session && session.userId === userId && sessionEndReason(ctx, session, ctx.clock.now()) === null) {
      const limits = [currentTokenLimits(ctx, session)];
      if (acting.presented) limits.push(acting.presented);
      access = await reissueAccessToken(ctx, user, session, ...limits);
    }
  }
  return { profile: toProfile(user, ctx.profileFields), access };
}

/**
 * Applies an app-side change to a user (claims update). Disabling ends every session. Returns the
 * updated profile and, for the acting session, a fresh access token with the new claims.
 * Throws `invalid_request` (a bad role or profile value), `invalid_token` (`acting` not from this
 * engine) or `not_found`.
 */
export async function updateUser(
  ctx: EngineContext,
  userId: string,
  update: UserUpdate,
): Promise<UserUpdateResult> {
  assertInputObject(update);
  const patch: UserPatch = {
    updatedAtMs: ctx.clock.now(),
    bumpTokenVersion:
      update.bumpTokenVersion ?? (update.roles !== undefined || update.reauthRequired === true),
  };
  if (update.roles !== undefined) patch.roles = checkRoles(update.roles);
  if (update.profile !== undefined) patch.profile = validateProfilePatch(ctx, update.profile);
  if (update.disabled !== undefined) patch.disabled = update.disabled === true;
  if (update.reauthRequired !== undefined) patch.reauthRequired = update.reauthRequired === true;
  let acting: { sessionId: string; presented: TimeLimits | null } | null = null;
  if (update.acting !== undefined) {
    const records = bearerRecords(ctx, update.acting);
    acting = { sessionId: records.session.id, presented: presentedTokenLimits(ctx, records.claims) };
  } else if (update.actingSessionId !== undefined) {
    acting = { sessionId: update.actingSessionId, presented: null };
  }
  return applyUserChange(ctx, userId, patch, acting);
}

/**
 * Updates the user's own profile claims (self-service) and returns the profile with a fresh access token
 * for the acting session, so the new claims are in effect at once. The fresh token keeps the presented
 * token's `exp` (and `softexp`): a profile change never extends a token's life.
 * Throws `invalid_request` naming the field.
 */
export async function updateOwnProfile(
  ctx: EngineContext,
  auth: Authenticated,
  patch: Record<string, unknown>,
): Promise<UserUpdateResult> {
  const records = bearerRecords(ctx, auth);
  const profile = validateProfilePatch(ctx, patch);
  return applyUserChange(
    ctx,
    records.user.id,
    { updatedAtMs: ctx.clock.now(), bumpTokenVersion: false, profile },
    { sessionId: records.session.id, presented: presentedTokenLimits(ctx, records.claims) },
  );
}
