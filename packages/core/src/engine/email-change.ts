import { TesseraError } from '../errors.ts';
import { normalizeEmail } from '../internal/email.ts';
import { assertInputObject } from '../internal/input.ts';
import { assertPasswordText, PASSWORD_MAX_LENGTH } from '../password.ts';
import { codePointLength } from '../text.ts';
import type { Authenticated } from './authenticate.ts';
import { accountKey, countAttempt, type EngineContext, forgetAttempts, ipKey } from './context.ts';
import type { EmailVerificationInput, VerifiedEmail } from './email-verification.ts';
import { userWithEmail } from './email-verification.ts';
import {
  assertDelivering,
  countRedemption,
  countTokenRequest,
  invalidOneTimeToken,
  issueOneTimeToken,
  presentedOneTimeToken,
  redeemOneTimeToken,
} from './one-time-tokens.ts';
import type { RenewClient } from './policies/session-policy.ts';
import { assertRecentAuthentication } from './step-up.ts';
import { emailChangedEvent } from './webhook-events.ts';

/** Input of `requestEmailChange` (`POST /auth/email/change`). */
export interface EmailChangeRequest {
  newEmail: string;
  /**
   * The user's current password, checked when given (counted like a login attempt). Either way the
   * token's authentication must be recent (`reauthMaxAgeSeconds`, RFC 9470): a bearer token alone must
   * not move the account to another inbox, and with it every reset link.
   */
  currentPassword?: string | undefined;
}

/**
 * Starts an email change for the authenticated user: after checking that the user authenticated
 * recently (RFC 9470 step-up) and, when given, the current password (counted like a login attempt, per
 * account and per client), sends an email-change token to the new address (24
 * hours by default; a newer one voids the older) in an `email_change.requested` event with
 * `previous_email`. Nothing changes until the token is redeemed. Throws `insufficient_user_authentication`,
 * `invalid_email`,
 * `invalid_password`, `invalid_request` (no current address, or the same one), `rate_limited`,
 * `invalid_credentials`, `email_taken`, `invalid_configuration` (no `deliver`).
 */
export async function requestEmailChange(
  ctx: EngineContext,
  auth: Authenticated,
  input: EmailChangeRequest,
  client: RenewClient = {},
): Promise<void> {
  assertInputObject(input);
  assertDelivering(ctx);
  assertRecentAuthentication(ctx, auth);
  const { user, email } = userWithEmail(ctx, auth);
  let newEmail: string;
  try {
    newEmail = normalizeEmail(input.newEmail);
  } catch {
    throw new TesseraError('invalid_email', 'The new email address is not valid.', { field: 'new_email' });
  }
  if (newEmail === email) {
    throw new TesseraError('invalid_request', 'This is the account’s address already.', {
      field: 'new_email',
    });
  }
  const key = accountKey(email, user.id);
  if (input.currentPassword !== undefined) {
    assertPasswordText(input.currentPassword, 'current_password');
    if (codePointLength(input.currentPassword) > PASSWORD_MAX_LENGTH) {
      throw new TesseraError(
        'invalid_password',
        `The password must be at most ${PASSWORD_MAX_LENGTH} characters.`,
        { field: 'current_password' },
      );
    }
    if (ctx.limits) {
      await countAttempt(ctx, ipKey('password', client.ip), ctx.limits.passwordChangePerIp);
      await countAttempt(ctx, key, ctx.limits.loginFailuresPerAccount);
    }
    const passwordOk =
      user.passwordHash === null
        ? await ctx.hasher.verifyDummy(input.currentPassword)
        : await ctx.hasher.verify(user.passwordHash, input.currentPassword);
    if (!passwordOk) {
      throw new TesseraError('invalid_credentials', 'The current password is incorrect.', {
        field: 'current_password',
      });
    }
    if (ctx.limits) await forgetAttempts(ctx, key, ctx.limits.loginFailuresPerAccount);
  }
  // Counted against the inbox that receives the link, like every token request.
  await countTokenRequest(ctx, newEmail, client.ip);
  if (await ctx.store.findUserByEmail(newEmail)) {
    throw new TesseraError('email_taken', 'An account with this email already exists.', {
      field: 'new_email',
    });
  }
  await issueOneTimeToken(ctx, {
    kind: 'email_change',
    user,
    email: newEmail,
    extra: { previous_email: email },
  });
}

/**
 * Redeems an email-change token: in one write the token is spent, the account moves to the new address
 * (verified: the token proved it) and `email.changed` (with `previous_email`, where the app sends the
 * notice) is emitted. Access tokens carry the change from the next refresh. If another account took the
 * address meanwhile, nothing changes and the token stays unspent. Throws `rate_limited`,
 * `invalid_one_time_token`, `email_taken`.
 */
export async function confirmEmailChange(
  ctx: EngineContext,
  input: EmailVerificationInput,
): Promise<VerifiedEmail> {
  assertInputObject(input);
  assertDelivering(ctx);
  const { hash, payload } = presentedOneTimeToken(input.token);
  let newEmail: string;
  try {
    newEmail = normalizeEmail(payload);
  } catch {
    throw invalidOneTimeToken();
  }
  await countRedemption(ctx, input.ip);
  const result = await redeemOneTimeToken(ctx, hash, 'email_change', {
    userPatch: { email: newEmail, emailVerified: true },
    emit: ({ user, previous, token }) => {
      if (token.email !== newEmail) throw invalidOneTimeToken();
      return [emailChangedEvent(user, previous)];
    },
  });
  ctx.onEvent({
    type: 'user.updated',
    userId: result.user.id,
    tokenVersion: result.user.tokenVersion,
    atMs: result.user.updatedAtMs,
  });
  return { email: newEmail };
}
