import { assertInputObject } from '../internal/input.ts';
import { assertAcceptablePassword, assertPasswordText } from '../password.ts';
import {
  accessTokenHorizonMs,
  accountKey,
  announceRevoked,
  type EngineContext,
  forgetAttempts,
} from './context.ts';
import {
  assertDelivering,
  assertSentToCurrentAddress,
  countRedemption,
  presentedOneTimeToken,
  redeemOneTimeToken,
  requestTokenByEmail,
} from './one-time-tokens.ts';
import { passwordChangedEvent, sessionRevokedEvents } from './webhook-events.ts';

/** Input of `requestPasswordReset` (`POST /auth/password/forgot`). */
export interface PasswordResetRequest {
  email: string;
  /** The client's IP address (rate limits group IPv6 by /64). */
  ip?: string | null | undefined;
}

/** Input of `resetPassword` (`POST /auth/password/reset`). */
export interface PasswordResetInput {
  /** The token from the `password_reset.requested` event. */
  token: string;
  newPassword: string;
  ip?: string | null | undefined;
}

/**
 * Starts a password reset: for an enabled account with this email, a reset token (30 minutes by
 * default; a newer one voids the older) goes out in a `password_reset.requested` event. Answers the same,
 * with the same work (a token made and one durable write) and no sooner than a 25 ms floor, for an
 * unknown or disabled account, so neither the answer nor its timing tells whether the account exists
 * (see `requestTokenByEmail`). Counted per client and per email first. Throws `invalid_email`,
 * `rate_limited`, `invalid_configuration` (no `deliver`).
 */
export async function requestPasswordReset(ctx: EngineContext, input: PasswordResetRequest): Promise<void> {
  return requestTokenByEmail(ctx, 'password_reset', input, (user) => !user.disabled);
}

/**
 * Redeems a reset token: sets the new password, bumps the token version and ends every session of the
 * user, in one write with the `password.changed` and `session.revoked` events; the account's login
 * backoff is forgotten. Does not sign in (the user logs in with the new password, and with their second
 * factor). The new password is checked and hashed before the token is spent.
 * Throws `invalid_password`, `common_password`, `rate_limited`, `invalid_one_time_token`.
 */
export async function resetPassword(ctx: EngineContext, input: PasswordResetInput): Promise<void> {
  assertInputObject(input);
  assertDelivering(ctx);
  const { hash } = presentedOneTimeToken(input.token);
  assertPasswordText(input.newPassword, 'new_password');
  await assertAcceptablePassword(input.newPassword, 'new_password');
  // Counted before the hash: argon2id is the expensive part a flood of bad tokens would buy.
  await countRedemption(ctx, input.ip);
  const passwordHash = await ctx.hasher.hash(input.newPassword);
  const result = await redeemOneTimeToken(ctx, hash, 'password_reset', {
    userPatch: { passwordHash, bumpTokenVersion: true },
    revokeSessions: 'password_reset',
    emit: ({ user, previous, token, revoked }) => {
      assertSentToCurrentAddress(token, previous);
      return [passwordChangedEvent(user, 'reset'), ...sessionRevokedEvents(revoked, 'password_reset')];
    },
  });
  const { user, revoked } = result;
  const nowMs = user.updatedAtMs;
  await announceRevoked(ctx, revoked, 'password_reset');
  await ctx.bus
    .publish({
      kind: 'user',
      sub: user.id,
      minVersion: user.tokenVersion,
      untilMs: accessTokenHorizonMs(ctx, nowMs),
      atMs: nowMs,
    })
    .catch(() => {
      // The store holds the new version; the bus only speeds its spread.
    });
  if (ctx.limits)
    await forgetAttempts(ctx, accountKey(user.email, user.id), ctx.limits.loginFailuresPerAccount);
  ctx.onEvent({ type: 'user.password_changed', userId: user.id, atMs: nowMs });
}
