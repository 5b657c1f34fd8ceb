import { TesseraError } from '../errors.ts';
import { assertInputObject } from '../internal/input.ts';
import type { EngineContext } from './context.ts';
import { deviceFingerprint } from './device-fingerprint.ts';
import type { TokenSet } from './issue-tokens.ts';
import { type ClientInfo, openSession, sessionClient } from './login.ts';

/**
 * Authentication Method Reference values a session may carry: the IANA registry RFC 8176 §5.1 set up
 * (§2 defines each), plus Tessera's own `email` (a magic link) and `ext` (an external identity provider).
 */
export const AMR_VALUES: readonly string[] = Object.freeze([
  'face',
  'fpt',
  'geo',
  'hwk',
  'iris',
  'kba',
  'mca',
  'mfa',
  'otp',
  'pin',
  'pop',
  'pwd',
  'rba',
  'retina',
  'sc',
  'sms',
  'swk',
  'tel',
  'user',
  'vbm',
  'wia',
  'email',
  'ext',
]);

/** Longest `acr` value accepted, in characters (printable ASCII: a URI or a short name). */
export const ACR_MAX_LENGTH = 256;

/** Input of `startSession`: a user the app authenticated itself, and how. */
export interface StartSessionInput extends ClientInfo {
  /** The Tessera user id (`Profile.id`). */
  userId: string;
  /** How the user authenticated (RFC 8176 values, e.g. `['hwk', 'user']` for a passkey); 1 to 10, no repeats. */
  amr: readonly string[];
  /** The authentication context class reached (`acr`), when the app names one. */
  acr?: string | null | undefined;
  /** When the user authenticated. Default: now. Not in the future, not older than the absolute session lifetime. */
  authTime?: Date | undefined;
}

/** The `amr` list, checked against {@link AMR_VALUES}. Throws `invalid_request` (field `amr`). */
export function checkAmr(amr: unknown): string[] {
  const valid =
    Array.isArray(amr) &&
    amr.length >= 1 &&
    amr.length <= 10 &&
    new Set(amr).size === amr.length &&
    amr.every((value) => typeof value === 'string' && AMR_VALUES.includes(value));
  if (!valid) {
    throw new TesseraError(
      'invalid_request',
      'amr must list 1 to 10 distinct RFC 8176 method names (pwd, otp, hwk, swk, user, mfa, …).',
      { field: 'amr' },
    );
  }
  return [...(amr as string[])];
}

function checkAcr(acr: unknown): string | null {
  if (acr === undefined || acr === null) return null;
  if (typeof acr !== 'string' || !new RegExp(`^[\\x21-\\x7e]{1,${ACR_MAX_LENGTH}}$`).test(acr)) {
    throw new TesseraError(
      'invalid_request',
      `acr must be 1 to ${ACR_MAX_LENGTH} printable ASCII characters without spaces.`,
      { field: 'acr' },
    );
  }
  return acr;
}

/**
 * The instant the user authenticated, in ms: `authTime`, or now. A time past now plus the leeway, older
 * than the absolute session lifetime, or already past the maximum login age would start a session
 * that is wrong or dead at birth. Throws `invalid_request` (field `auth_time`).
 */
function checkAuthTime(ctx: EngineContext, authTime: unknown, nowMs: number): number {
  if (authTime === undefined) return nowMs;
  const ms = authTime instanceof Date ? authTime.getTime() : Number.NaN;
  const refuse = (why: string): never => {
    throw new TesseraError('invalid_request', `auth_time ${why}`, { field: 'auth_time' });
  };
  if (!Number.isFinite(ms)) return refuse('must be a valid Date.');
  if (ms > nowMs + ctx.leewaySeconds * 1000) return refuse('is in the future.');
  if (ms <= nowMs - ctx.absoluteTtlMs) return refuse('is older than the absolute session lifetime.');
  if (ctx.maxLoginAgeMs > 0 && ms <= nowMs - ctx.maxLoginAgeMs) {
    return refuse('is older than the maximum login age.');
  }
  return Math.min(ms, nowMs);
}

/**
 * Starts a session for a user the app authenticated itself (its own password table, a passkey, an
 * identity provider) and returns the same token set as a login, under every policy. A user flagged for
 * re-authentication has its older sessions ended and the flag cleared, as a login does.
 * Throws `invalid_request` (a bad `amr`, `acr`, `authTime` or device name), `not_found` (no such user),
 * `account_disabled`.
 */
export async function startSession(ctx: EngineContext, input: StartSessionInput): Promise<TokenSet> {
  assertInputObject(input);
  const amr = checkAmr(input.amr);
  const acr = checkAcr(input.acr);
  const authTimeMs = checkAuthTime(ctx, input.authTime, ctx.clock.now());
  const client = sessionClient(input);
  const user = typeof input.userId === 'string' ? await ctx.store.findUserById(input.userId) : null;
  if (!user) throw new TesseraError('not_found', 'No such user.', { field: 'user_id' });
  if (user.disabled) throw new TesseraError('account_disabled', 'This account is disabled.');
  return openSession(ctx, user, client, amr, { authTimeMs, acr }, deviceFingerprint(ctx, input));
}
