import { Secret, TOTP } from 'otpauth';

// RFC 6238 over the maintained `otpauth` library (HOTP's dynamic truncation, the 8-byte counter, base32,
// the key URI, constant-time comparison) rather than code of our own. totp.test.ts holds it to the
// RFC's test vectors and to an independent implementation (counters past 2^32 included).

/** Seconds per TOTP time step (RFC 6238 §4.1 `X`, the default every authenticator app uses). */
export const TOTP_PERIOD_SECONDS = 30;
/** Digits of a code. */
export const TOTP_DIGITS = 6;
/** Steps accepted either side of the current one (RFC 6238 §5.2: one step of network delay or clock drift). */
export const TOTP_WINDOW_STEPS = 1;

const CODE = /^\d{6}$/;

/** A new random TOTP secret: 20 bytes (RFC 4226 §4's recommended 160 bits), base32 (RFC 4648) without padding. */
export function newTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** The time step (RFC 6238 §4.2 `T`) of `nowMs`: whole 30-second periods since the epoch. */
export function totpStep(nowMs: number): number {
  return Math.floor(nowMs / 1000 / TOTP_PERIOD_SECONDS);
}

/** The 6-digit TOTP code (RFC 6238, HMAC-SHA1, 30 s steps) of a base32 `secret` at `nowMs`. */
export function totpCode(secret: string, nowMs: number): string {
  return TOTP.generate({ secret: Secret.fromBase32(secret), timestamp: nowMs });
}

/**
 * The time step whose code `code` is, searching the step of `nowMs` and {@link TOTP_WINDOW_STEPS}
 * either side (RFC 6238 §5.2), or `null` when it is none of them or not six digits. Compares in
 * constant time per step. The caller must still accept the step once per user (replay, §5.2).
 */
export function matchTotpStep(secret: string, code: unknown, nowMs: number): number | null {
  if (typeof code !== 'string' || !CODE.test(code)) return null;
  const delta = TOTP.validate({
    token: code,
    secret: Secret.fromBase32(secret),
    timestamp: nowMs,
    window: TOTP_WINDOW_STEPS,
  });
  return delta === null ? null : totpStep(nowMs) + delta;
}

/**
 * The `otpauth://totp/…` key URI authenticator apps scan (Google Authenticator's Key Uri Format):
 * `issuer` and `account` label it, and the parameters are RFC 6238's defaults stated explicitly.
 */
export function totpUri(secret: string, issuer: string, account: string): string {
  return new TOTP({
    issuer,
    label: account,
    secret: Secret.fromBase32(secret),
    period: TOTP_PERIOD_SECONDS,
    digits: TOTP_DIGITS,
    algorithm: 'SHA1',
  }).toString();
}
