/**
 * Session policies (TESSERA_POLICY). See docs/choosing.md for their trade-offs.
 * - `rotating-refresh` (default): short access token + rotating refresh token with reuse detection.
 * - `sliding-single-token`: one short access token, re-issued by the server (response header) once past
 *   half its life while the session is within its idle and absolute limits.
 * - `soft-expiry`: one token with a soft expiry (`softexp`) before the hard `exp`; past it bearer routes
 *   refuse it and the client renews it at `/auth/renew`, once.
 * - `expired-token-exchange`: one token; once expired, it buys a new one at `/auth/refresh` together with
 *   the session cookie, once.
 * - `long-lived-token`: one token of days, revocable through the feed and the token version.
 */
export type PolicyName =
  | 'rotating-refresh'
  | 'sliding-single-token'
  | 'soft-expiry'
  | 'expired-token-exchange'
  | 'long-lived-token';

/** Every policy name, the default first. */
export const POLICY_NAMES: readonly PolicyName[] = Object.freeze([
  'rotating-refresh',
  'sliding-single-token',
  'soft-expiry',
  'expired-token-exchange',
  'long-lived-token',
]);

/** The access-token lifetime a policy uses when none is configured (seconds). */
export const POLICY_DEFAULT_ACCESS_TTL_SECONDS: Readonly<Record<PolicyName, number>> = Object.freeze({
  'rotating-refresh': 600,
  'sliding-single-token': 900,
  'soft-expiry': 3600,
  'expired-token-exchange': 600,
  'long-lived-token': 7 * 86_400,
});
