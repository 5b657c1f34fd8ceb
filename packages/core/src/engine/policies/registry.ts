import { expiredTokenExchange } from './expired-token-exchange.ts';
import { longLivedToken } from './long-lived-token.ts';
import { rotatingRefresh } from './rotating-refresh.ts';
import type { SessionPolicy } from './session-policy.ts';
import { slidingSingleToken } from './sliding-single-token.ts';
import { softExpiry } from './soft-expiry.ts';

/** A session policy's name (`TESSERA_POLICY`). */
export type PolicyName =
  | 'rotating-refresh'
  | 'sliding-single-token'
  | 'soft-expiry'
  | 'expired-token-exchange'
  | 'long-lived-token';

/** Every session policy by name, the default first. See docs/choosing.md for their trade-offs. */
const POLICIES: Readonly<Record<PolicyName, SessionPolicy>> = Object.freeze({
  'rotating-refresh': rotatingRefresh,
  'sliding-single-token': slidingSingleToken,
  'soft-expiry': softExpiry,
  'expired-token-exchange': expiredTokenExchange,
  'long-lived-token': longLivedToken,
});

/** Every policy name, the default (`rotating-refresh`) first. */
export const POLICY_NAMES: readonly PolicyName[] = Object.freeze(Object.keys(POLICIES) as PolicyName[]);

/** The access-token lifetime each policy uses when none is configured (seconds). */
export const POLICY_DEFAULT_ACCESS_TTL_SECONDS: Readonly<Record<PolicyName, number>> = Object.freeze(
  Object.fromEntries(POLICY_NAMES.map((name) => [name, POLICIES[name].accessTtl.defaultSeconds])) as Record<
    PolicyName,
    number
  >,
);

/** The longest access-token lifetime each policy allows (seconds). */
export const POLICY_MAX_ACCESS_TTL_SECONDS: Readonly<Record<PolicyName, number>> = Object.freeze(
  Object.fromEntries(POLICY_NAMES.map((name) => [name, POLICIES[name].accessTtl.maxSeconds])) as Record<
    PolicyName,
    number
  >,
);

/** The policy named `name`. */
export function policyNamed(name: PolicyName): SessionPolicy {
  return POLICIES[name];
}
