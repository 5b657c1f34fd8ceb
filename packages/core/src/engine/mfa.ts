import { TesseraError } from '../errors.ts';
import type { UserRecord } from '../store/store.ts';
import { matchTotpStep, newTotpSecret, totpUri } from '../totp.ts';
import type { Authenticated } from './authenticate.ts';
import { accountKey, countAttempt, type EngineContext, forgetAttempts } from './context.ts';
import { wakeOutbox } from './outbox-worker.ts';
import { newRecoveryCodes } from './recovery-codes.ts';
import { acceptSecondFactor, secondFactorFromCode, secondFactorRefused } from './second-factor.ts';
import { assertRecentAuthentication } from './step-up.ts';
import { openTotpSecret, sealTotpSecret } from './totp-secret.ts';
import { emitWhenDelivering, mfaEvent } from './webhook-events.ts';

/** A started TOTP enrolment: the secret to show (or encode as a QR code) and its key URI. */
export interface TotpEnrollment {
  /** Base32 (RFC 4648), for typing into an authenticator app. */
  secret: string;
  /** `otpauth://totp/…`, for a QR code. */
  uri: string;
}

/** A user's two-factor state, for an account page. */
export interface TwoFactorStatus {
  /** Two-factor login (TOTP) is on. */
  enabled: boolean;
  /** An enrolment was started and not confirmed yet. */
  pending: boolean;
  /** Unused recovery codes left. */
  recoveryCodesRemaining: number;
}

const GONE = (): TesseraError =>
  new TesseraError('invalid_token', 'The account no longer exists or is disabled.');

/** The label authenticator apps show for the issuer: its host when it is a URL. */
function issuerLabel(issuer: string): string {
  try {
    return new URL(issuer).host || issuer;
  } catch {
    return issuer;
  }
}

/**
 * The user behind a recently authenticated request, read again from the store: an `Authenticated` may
 * be reused by a library caller across steps (enrol, then confirm), and each step needs the state as
 * the last one left it.
 */
async function recentUser(ctx: EngineContext, auth: Authenticated): Promise<UserRecord> {
  const { user } = assertRecentAuthentication(ctx, auth);
  const current = await ctx.store.findUserById(user.id);
  if (!current || current.disabled) throw GONE();
  return current;
}

function codeText(code: unknown): string {
  if (typeof code !== 'string') {
    throw new TesseraError('invalid_request', 'The code must be a string.', { field: 'code' });
  }
  return code;
}

/** Counts one attempt against the account's backoff, before the code is checked (parallel guesses). */
async function countCodeAttempt(ctx: EngineContext, user: UserRecord): Promise<string> {
  const key = accountKey(user.email, user.id);
  if (ctx.limits) await countAttempt(ctx, key, ctx.limits.loginFailuresPerAccount);
  return key;
}

async function forgetCodeAttempts(ctx: EngineContext, key: string): Promise<void> {
  if (ctx.limits) await forgetAttempts(ctx, key, ctx.limits.loginFailuresPerAccount);
}

/**
 * Starts (or restarts) TOTP enrolment: a new random secret, stored sealed as the user's pending secret
 * (replacing any earlier pending one), returned once in the clear with its `otpauth://` URI. Needs a
 * recent authentication. Throws `insufficient_user_authentication`, `mfa_already_enabled`.
 */
export async function enrollTotp(ctx: EngineContext, auth: Authenticated): Promise<TotpEnrollment> {
  const user = await recentUser(ctx, auth);
  if (user.totpSecret !== null) {
    throw new TesseraError('mfa_already_enabled', 'Two-factor login is already on; turn it off first.');
  }
  const secret = newTotpSecret();
  const updated = await ctx.store.updateUser(user.id, {
    totpPendingSecret: sealTotpSecret(ctx, user.id, secret),
    updatedAtMs: ctx.clock.now(),
  });
  if (!updated || updated === 'email_taken') throw GONE();
  return { secret, uri: totpUri(secret, issuerLabel(ctx.issuer), user.email ?? user.id) };
}

/**
 * Confirms TOTP enrolment with a code from the user's app and turns two-factor login on, with ten new
 * recovery codes, in one store write (`setRecoveryCodes` with `confirmTotp`). The confirming code's
 * step is accepted first, so it can never sign in (RFC 6238 §5.2) and of two concurrent confirmations
 * one wins. Returns the recovery codes: shown once, stored only as hashes. Needs a recent
 * authentication; the attempt is counted against the account first.
 * Throws `insufficient_user_authentication`, `invalid_request`, `mfa_already_enabled`,
 * `mfa_not_enabled` (no enrolment started), `rate_limited`, `invalid_totp`.
 */
export async function confirmTotp(
  ctx: EngineContext,
  auth: Authenticated,
  code: unknown,
): Promise<{ recoveryCodes: string[] }> {
  const user = await recentUser(ctx, auth);
  const text = codeText(code);
  if (user.totpSecret !== null) {
    throw new TesseraError('mfa_already_enabled', 'Two-factor login is already on.');
  }
  if (user.totpPendingSecret === null) {
    throw new TesseraError('mfa_not_enabled', 'No two-factor enrolment was started; enrol first.');
  }
  const key = await countCodeAttempt(ctx, user);
  const nowMs = ctx.clock.now();
  const step = matchTotpStep(openTotpSecret(ctx, user.id, user.totpPendingSecret), text, nowMs);
  if (step === null || !(await ctx.store.acceptTotpStep(user.id, step))) {
    throw secondFactorRefused({ kind: 'totp', code: text }, 'code');
  }
  await forgetCodeAttempts(ctx, key);
  const { codes, hashes } = newRecoveryCodes();
  // `mfa.enabled` in the same write: the event exists if and only if the change does.
  const confirmed = await ctx.store.setRecoveryCodes(user.id, hashes, {
    confirmTotp: true,
    atMs: nowMs,
    emit: emitWhenDelivering(ctx, (enabled) => [mfaEvent('mfa.enabled', enabled, nowMs)]),
  });
  if (!confirmed) {
    throw new TesseraError('mfa_not_enabled', 'The enrolment was replaced or cancelled; enrol again.');
  }
  ctx.onEvent({ type: 'mfa.enabled', userId: user.id, atMs: nowMs });
  wakeOutbox(ctx);
  return { recoveryCodes: codes };
}

/**
 * Replaces the user's recovery codes with ten new ones (the old ones stop working at once) and returns
 * them, shown once. Needs two-factor login on and a recent authentication.
 * Throws `insufficient_user_authentication`, `mfa_not_enabled`.
 */
export async function regenerateRecoveryCodes(
  ctx: EngineContext,
  auth: Authenticated,
): Promise<{ recoveryCodes: string[] }> {
  const user = await recentUser(ctx, auth);
  if (user.totpSecret === null) throw new TesseraError('mfa_not_enabled', 'Two-factor login is off.');
  const { codes, hashes } = newRecoveryCodes();
  const nowMs = ctx.clock.now();
  if (!(await ctx.store.setRecoveryCodes(user.id, hashes, { confirmTotp: false, atMs: nowMs }))) throw GONE();
  ctx.onEvent({ type: 'mfa.recovery_codes_regenerated', userId: user.id, atMs: nowMs });
  return { recoveryCodes: codes };
}

/**
 * Turns two-factor login off after checking `code`: a current TOTP code (six digits; accepted once) or
 * an unused recovery code (used up). Clears the secret, any pending enrolment and every recovery code.
 * Needs a recent authentication; the attempt is counted against the account first.
 * Throws `insufficient_user_authentication`, `invalid_request`, `mfa_not_enabled`, `rate_limited`,
 * `invalid_totp`, `invalid_recovery_code`.
 */
export async function disableTotp(ctx: EngineContext, auth: Authenticated, code: unknown): Promise<void> {
  const user = await recentUser(ctx, auth);
  const factor = secondFactorFromCode(codeText(code));
  if (user.totpSecret === null) throw new TesseraError('mfa_not_enabled', 'Two-factor login is off.');
  const key = await countCodeAttempt(ctx, user);
  if (!(await acceptSecondFactor(ctx, user, factor))) throw secondFactorRefused(factor, 'code');
  await forgetCodeAttempts(ctx, key);
  const nowMs = ctx.clock.now();
  const updated = await ctx.store.updateUser(
    user.id,
    { totpSecret: null, totpPendingSecret: null, updatedAtMs: nowMs },
    emitWhenDelivering(ctx, (disabled) => [mfaEvent('mfa.disabled', disabled, nowMs)]),
  );
  if (!updated || updated === 'email_taken') throw GONE();
  // Second, so a failure here leaves codes that nothing accepts (they need two-factor login on), never
  // two-factor login on without its codes.
  await ctx.store.setRecoveryCodes(user.id, [], { confirmTotp: false, atMs: nowMs });
  ctx.onEvent({ type: 'mfa.disabled', userId: user.id, atMs: nowMs });
  wakeOutbox(ctx);
}

/** The user's two-factor state. Throws `not_found`. */
export async function twoFactorStatus(ctx: EngineContext, userId: string): Promise<TwoFactorStatus> {
  const user = typeof userId === 'string' ? await ctx.store.findUserById(userId) : null;
  if (!user) throw new TesseraError('not_found', 'No such user.');
  return {
    enabled: user.totpSecret !== null,
    pending: user.totpPendingSecret !== null,
    recoveryCodesRemaining: user.totpSecret === null ? 0 : await ctx.store.countRecoveryCodes(user.id),
  };
}
