import { TesseraError } from '../errors.ts';
import { assertInputObject } from '../internal/input.ts';
import { type Authenticated, type BearerRecords, bearerRecords } from './authenticate.ts';
import type { EngineContext } from './context.ts';
import {
  assertDelivering,
  assertSentToCurrentAddress,
  countRedemption,
  countTokenRequest,
  issueOneTimeToken,
  presentedOneTimeToken,
  redeemOneTimeToken,
} from './one-time-tokens.ts';
import type { RenewClient } from './policies/session-policy.ts';

/** Input of `verifyEmail` (`POST /auth/email/verify`). */
export interface EmailVerificationInput {
  /** The token from the `email_verification.requested` event. */
  token: string;
  ip?: string | null | undefined;
}

/** The address a redeemed email token verified. */
export interface VerifiedEmail {
  email: string;
}

/** The records of an authenticated user who has an email address. Throws `invalid_request`. */
export function userWithEmail(ctx: EngineContext, auth: Authenticated): BearerRecords & { email: string } {
  const records = bearerRecords(ctx, auth);
  const email = records.user.email;
  if (email === null) {
    throw new TesseraError('invalid_request', 'This account has no email address.', { field: 'email' });
  }
  return { ...records, email };
}

/**
 * Sends a verification link to the authenticated user's address (24 hours by default; a newer one voids
 * the older) in an `email_verification.requested` event. Counted per client and per account. Throws
 * `invalid_request` (no address), `email_already_verified`, `rate_limited`, `invalid_token`,
 * `invalid_configuration` (no `deliver`).
 */
export async function requestEmailVerification(
  ctx: EngineContext,
  auth: Authenticated,
  client: RenewClient = {},
): Promise<void> {
  assertDelivering(ctx);
  const { user, email } = userWithEmail(ctx, auth);
  if (user.emailVerified) {
    throw new TesseraError('email_already_verified', 'This email address is verified already.');
  }
  await countTokenRequest(ctx, email, client.ip);
  await issueOneTimeToken(ctx, { kind: 'email_verification', user, email });
}

/**
 * Redeems a verification token: marks the address verified in the same write that spends the token
 * (access tokens carry `email_verified` from the next refresh). A token sent to an address the account
 * no longer has is refused and left unspent. Throws `rate_limited`, `invalid_one_time_token`.
 */
export async function verifyEmail(ctx: EngineContext, input: EmailVerificationInput): Promise<VerifiedEmail> {
  assertInputObject(input);
  assertDelivering(ctx);
  const { hash } = presentedOneTimeToken(input.token);
  await countRedemption(ctx, input.ip);
  const result = await redeemOneTimeToken(ctx, hash, 'email_verification', {
    userPatch: { emailVerified: true },
    emit: ({ previous, token }) => {
      assertSentToCurrentAddress(token, previous);
      return [];
    },
  });
  ctx.onEvent({
    type: 'user.updated',
    userId: result.user.id,
    tokenVersion: result.user.tokenVersion,
    atMs: result.user.updatedAtMs,
  });
  return { email: result.token.email };
}
