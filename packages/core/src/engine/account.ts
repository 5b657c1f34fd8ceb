import { TesseraError } from '../errors.ts';
import { assertAcceptablePassword } from '../password.ts';
import type { SessionRecord, UserPatch, UserRecord } from '../store/store.ts';
import { newTotpSecret, totpUri, verifyTotp } from '../totp.ts';
import {
  accessTokenHorizonMs,
  announceRevoked,
  type EngineContext,
  enforceRateLimit,
  issueAccessToken,
  issueTokens,
  pickProfile,
  rotationUpdate,
  type TokenSet,
} from './context.ts';

/** What a user sees of their own account. */
export interface Profile {
  id: string;
  email: string | null;
  roles: string[];
  /** The configured profile fields, `null` where unset. */
  profile: Record<string, string | null>;
  tokenVersion: number;
  twoFactor: boolean;
  createdAt: Date;
}

/** Describes a user for their own eyes. */
export function toProfile(ctx: EngineContext, user: UserRecord): Profile {
  return {
    id: user.id,
    email: user.email,
    roles: [...user.roles],
    profile: pickProfile(ctx, user),
    tokenVersion: user.tokenVersion,
    twoFactor: user.totpSecret !== null,
    createdAt: new Date(user.createdAtMs),
  };
}

async function rotateForFreshTokens(
  ctx: EngineContext,
  user: UserRecord,
  session: SessionRecord,
): Promise<TokenSet> {
  let current: SessionRecord | null = session;
  for (let attempt = 0; attempt < 5 && current && current.revokedAtMs === null; attempt += 1) {
    const nowMs = ctx.clock.now();
    const rotated = await ctx.store.rotateSession(
      current.id,
      current.generation,
      rotationUpdate(ctx, current, nowMs),
    );
    if (rotated) return issueTokens(ctx, user, rotated, rotated.generation);
    current = await ctx.store.findSession(current.id);
  }
  throw new TesseraError('invalid_token', 'The session of this access token has ended.');
}

/**
 * Changes the password after checking the current one. Ends every other session of the user (unless
 * configured otherwise), bumps the token version, and returns fresh tokens for the current session.
 */
export async function changePassword(
  ctx: EngineContext,
  user: UserRecord,
  session: SessionRecord,
  currentPassword: string,
  newPassword: string,
): Promise<TokenSet> {
  const accountKey = `login:account:${user.email}`;
  if (ctx.limits) await enforceRateLimit(ctx, accountKey, ctx.limits.loginFailuresPerAccount, 'check');
  const passwordOk =
    user.passwordHash === null
      ? await ctx.hasher.verifyDummy(currentPassword).then(() => false)
      : await ctx.hasher.verify(user.passwordHash, currentPassword);
  if (!passwordOk) {
    if (ctx.limits) {
      for (const rule of ctx.limits.loginFailuresPerAccount) {
        await ctx.limiter.hit(`${accountKey}:${rule.windowSeconds}`, rule, ctx.clock.now());
      }
    }
    throw new TesseraError('invalid_credentials', 'The current password is incorrect.', {
      field: 'current_password',
    });
  }
  await assertAcceptablePassword(newPassword, 'new_password');
  const passwordHash = await ctx.hasher.hash(newPassword);
  const nowMs = ctx.clock.now();
  let updated: UserRecord | null;
  if (ctx.endSessionsOnPasswordChange) {
    const changed = await ctx.store.changePassword(user.id, passwordHash, session.id, nowMs);
    updated = changed?.user ?? null;
    if (changed) await announceRevoked(ctx, changed.revoked, 'password_changed');
  } else {
    const result = await ctx.store.updateUser(user.id, { passwordHash, updatedAtMs: nowMs });
    updated = result === 'email_taken' ? null : result;
  }
  if (!updated) throw new TesseraError('invalid_token', 'The account no longer exists.');
  ctx.onEvent({ type: 'user.password_changed', userId: user.id, atMs: nowMs });
  return rotateForFreshTokens(ctx, updated, session);
}

/** Changes to a user made by the app (roles, profile, status). */
export interface UserUpdate {
  roles?: string[];
  profile?: Record<string, string | null>;
  disabled?: boolean;
  /** Force re-authentication: every session must log in again at its next refresh. */
  reauthRequired?: boolean;
  /**
   * Make the change reach the user's other sessions before their access tokens expire: bumps the
   * token version, so verifiers refuse older tokens. Default: true when `roles` change.
   */
  bumpTokenVersion?: boolean;
  /** A session to mint a fresh access token for, carrying the change at once. */
  actingSessionId?: string;
}

/** The result of {@link updateUser}. */
export interface UserUpdateResult {
  user: UserRecord;
  /** A fresh access token for `actingSessionId`, when given and live. */
  access: { accessToken: string; expiresIn: number } | null;
}

/**
 * Applies an app-side change to a user (claims update). Disabling ends every session. Returns the
 * updated user and, for the acting session, a fresh access token with the new claims.
 * Throws `not_found` when there is no such user.
 */
export async function updateUser(
  ctx: EngineContext,
  userId: string,
  update: UserUpdate,
): Promise<UserUpdateResult> {
  const nowMs = ctx.clock.now();
  const patch: UserPatch = {
    updatedAtMs: nowMs,
    bumpTokenVersion: update.bumpTokenVersion ?? update.roles !== undefined,
  };
  if (update.roles !== undefined) patch.roles = [...update.roles];
  if (update.profile !== undefined) patch.profile = { ...update.profile };
  if (update.disabled !== undefined) patch.disabled = update.disabled;
  if (update.reauthRequired !== undefined) patch.reauthRequired = update.reauthRequired;
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
  if (update.disabled) {
    const revoked = await ctx.store.revokeUserSessions(userId, nowMs, 'account_disabled');
    await announceRevoked(ctx, revoked, 'account_disabled');
  }
  let access: UserUpdateResult['access'] = null;
  if (update.actingSessionId !== undefined && !user.disabled) {
    const session = await ctx.store.findSession(update.actingSessionId);
    if (session && session.userId === userId && session.revokedAtMs === null) {
      access = await issueAccessToken(ctx, user, session);
    }
  }
  return { user, access };
}

/**
 * Starts two-factor enrollment: returns a new TOTP secret and its `otpauth://` URI. The secret is
 * stored only by {@link confirmTotp} once the user proves their app produces the right code.
 */
export function beginTotpEnrollment(ctx: EngineContext, user: UserRecord): { secret: string; uri: string } {
  const secret = newTotpSecret();
  return { secret, uri: totpUri(secret, new URL(ctx.issuer).host, user.email ?? user.id) };
}

/** Stores a TOTP secret after checking `code` against it; throws `invalid_totp`. */
export async function confirmTotp(
  ctx: EngineContext,
  userId: string,
  secret: string,
  code: string,
): Promise<void> {
  if (!verifyTotp(secret, code, ctx.clock.now())) {
    throw new TesseraError('invalid_totp', 'The one-time code is incorrect.', { field: 'totp' });
  }
  await ctx.store.updateUser(userId, { totpSecret: secret, updatedAtMs: ctx.clock.now() });
}
