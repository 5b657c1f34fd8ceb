import { TesseraError } from '../errors.ts';
import type { UserRecord } from '../store/store.ts';
import { matchTotpStep } from '../totp.ts';
import type { EngineContext } from './context.ts';
import { recoveryCodeHash } from './recovery-codes.ts';
import { openTotpSecret } from './totp-secret.ts';

/** A second factor a request presented: a TOTP code or a recovery code. */
export type SecondFactor = { kind: 'totp'; code: string } | { kind: 'recovery_code'; code: string };

/**
 * The `amr` of an authentication (RFC 8176 §2) from the methods it used (`pwd`, `otp`, …): the methods,
 * plus `mfa` when there are two or more.
 */
export function authenticationMethods(methods: readonly string[]): string[] {
  const amr = [...new Set(methods)];
  return amr.length >= 2 ? [...amr, 'mfa'] : amr;
}

/**
 * The second factor in an input's `totp` and `recoveryCode` fields (either may be absent), or `null`.
 * Throws `invalid_request` naming the field when one is not a string, or when both are sent.
 */
export function presentedSecondFactor(totp: unknown, recoveryCode: unknown): SecondFactor | null {
  for (const [field, value] of [
    ['totp', totp],
    ['recovery_code', recoveryCode],
  ] as const) {
    if (value !== undefined && typeof value !== 'string') {
      throw new TesseraError('invalid_request', `The ${field} must be a string.`, { field });
    }
  }
  if (totp !== undefined && recoveryCode !== undefined) {
    throw new TesseraError('invalid_request', 'Send either a TOTP code or a recovery code, not both.', {
      field: 'recovery_code',
    });
  }
  if (typeof totp === 'string') return { kind: 'totp', code: totp };
  if (typeof recoveryCode === 'string') return { kind: 'recovery_code', code: recoveryCode };
  return null;
}

/**
 * Reads a code sent in one field (`DELETE /auth/mfa/totp {code}`): six digits are a TOTP code, anything
 * else is tried as a recovery code.
 */
export function secondFactorFromCode(code: string): SecondFactor {
  return /^\d{6}$/.test(code) ? { kind: 'totp', code } : { kind: 'recovery_code', code };
}

/**
 * Checks `factor` for a user with two-factor login on and uses it up: a TOTP code must match the step
 * of now or one either side (RFC 6238 §5.2) and that step must be later than any accepted before for
 * the user (the store's atomic `acceptTotpStep`: no replay within the step, nor of an earlier one); a
 * recovery code must be one of the user's unused codes, marked used in the same atomic write. True
 * when accepted. The caller counts the attempt first.
 */
export async function acceptSecondFactor(
  ctx: EngineContext,
  user: UserRecord,
  factor: SecondFactor,
): Promise<boolean> {
  const nowMs = ctx.clock.now();
  if (factor.kind === 'recovery_code') {
    const hash = recoveryCodeHash(factor.code);
    const used = hash !== null && (await ctx.store.useRecoveryCode(user.id, hash, nowMs));
    if (used) ctx.onEvent({ type: 'mfa.recovery_code_used', userId: user.id, atMs: nowMs });
    return used;
  }
  if (user.totpSecret === null) return false;
  const step = matchTotpStep(openTotpSecret(ctx, user.id, user.totpSecret), factor.code, nowMs);
  return step !== null && (await ctx.store.acceptTotpStep(user.id, step));
}

/** The refusal of a second factor that was not accepted (401, `field` naming what was sent). */
export function secondFactorRefused(factor: SecondFactor, field?: string): TesseraError {
  return factor.kind === 'totp'
    ? new TesseraError('invalid_totp', 'The one-time code is incorrect or was already used.', {
        field: field ?? 'totp',
      })
    : new TesseraError('invalid_recovery_code', 'The recovery code is incorrect or was already used.', {
        field: field ?? 'recovery_code',
      });
}
