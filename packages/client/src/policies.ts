/** The server's session policy (`TESSERA_POLICY`), which decides how the client renews. */
export type SessionPolicy =
  | 'rotating-refresh'
  | 'soft-expiry'
  | 'sliding-single-token'
  | 'expired-token-exchange'
  | 'long-lived-token';

/** How a client renews its access token under a policy. */
export interface RenewalRule {
  /** The route, below the auth path. */
  path: '/refresh' | '/renew';
  /** The current access token goes along as `Authorization: Bearer`. */
  bearer: boolean;
  /** The body field that carries the stored secret in body transport (none in cookie transport). */
  secret: 'refresh_token' | 'session_token' | null;
}

/**
 * The renewal each policy uses, or `null` when the client never asks for one (`sliding-single-token`:
 * the server hands renewed tokens back on responses; `long-lived-token`: no renewal).
 */
export const RENEWAL_RULES: Readonly<Record<SessionPolicy, RenewalRule | null>> = {
  'rotating-refresh': { path: '/refresh', bearer: false, secret: 'refresh_token' },
  'soft-expiry': { path: '/renew', bearer: true, secret: null },
  'sliding-single-token': null,
  'expired-token-exchange': { path: '/refresh', bearer: true, secret: 'session_token' },
  'long-lived-token': null,
};

/**
 * When a token received now becomes due for renewal, in ms after receipt: at 80 % of its life
 * (`rotating-refresh`), at its soft expiry (`soft-expiry`: the server refuses an earlier renewal), at
 * its expiry (`expired-token-exchange`: only an expired token can be exchanged); `null` when the
 * client does not renew.
 */
export function dueAfterMs(
  policy: SessionPolicy,
  expiresIn: number,
  softExpiresIn: number | undefined,
): number | null {
  if (policy === 'rotating-refresh') return expiresIn * 800;
  if (policy === 'soft-expiry') return (softExpiresIn ?? expiresIn) * 1000;
  if (policy === 'expired-token-exchange') return expiresIn * 1000;
  return null;
}
