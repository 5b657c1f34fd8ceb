import type { BearerRecords } from '../authenticate.ts';
import type { EngineContext } from '../context.ts';
import type { AccessGrant, TokenSet } from '../issue-tokens.ts';

/**
 * How a policy renews access, for the HTTP layer (`engine.settings.renewal`):
 * - `refresh`: a rotating refresh token at the refresh endpoint (`engine.refresh`);
 * - `sliding`: a response to a bearer request carries a renewed token (`engine.slide`);
 * - `soft`: past its soft expiry, the token buys its renewal once (`engine.renew`);
 * - `exchange`: once expired, the token plus the session handle buy a new one (`engine.exchangeExpired`);
 * - `none`: nothing renews it; the user signs in again.
 */
export type PolicyRenewal = 'refresh' | 'sliding' | 'soft' | 'exchange' | 'none';

/** Where a renewal came from, stored on the session like a refresh. */
export interface RenewClient {
  ip?: string | null;
  userAgent?: string | null;
  /** The thumbprint of the request's verified DPoP proof (`engine.verifyDpopProof`): a bound session's renewal needs its key. */
  dpopJkt?: string | null;
}

/** What a policy's claims are computed from. Times in whole seconds. */
export interface PolicyClaimsInput {
  /** The session generation the token is minted at. */
  generation: number;
  issuedAtSeconds: number;
  /** The resolved soft lifetime, or `null` when the policy has none. */
  softTtlSeconds: number | null;
}

/** A problem with a combination of options, for `invalid_configuration`. */
export interface OptionProblem {
  option: string;
  message: string;
}

/** The settings a policy checks its relations against (seconds). */
export interface PolicyOptionsInput {
  accessTtlSeconds: number;
  softTtlSeconds: number | null;
  refreshIdleTtlSeconds: number;
  refreshAbsoluteTtlSeconds: number;
}

/**
 * A session policy: everything that differs between `rotating-refresh`, `sliding-single-token`,
 * `soft-expiry`, `expired-token-exchange` and `long-lived-token`. The engine and the HTTP layer ask the
 * policy (or read its data on `engine.settings`) instead of comparing policy names, so a policy is one
 * module under `policies/` plus its line in `registry.ts`.
 */
export interface SessionPolicy {
  readonly name: string;
  /** The access-token lifetime when none is configured, and the shortest and longest it allows (seconds). */
  readonly accessTtl: {
    readonly defaultSeconds: number;
    readonly minSeconds: number;
    readonly maxSeconds: number;
  };
  /** What a sign-in issues besides the access token. */
  readonly issuesRefreshToken: boolean;
  readonly issuesSessionHandle: boolean;
  /** How access is renewed (see {@link PolicyRenewal}). */
  readonly renewal: PolicyRenewal;
  /** Claims holding instants (seconds) that a reissued token may never move later, besides `exp`. */
  readonly timeClaims: readonly string[];
  /** The soft lifetime for `accessTtlSeconds` when none is configured, or `null`: the policy has none. */
  defaultSoftTtlSeconds(accessTtlSeconds: number): number | null;
  /** Relations among options this policy needs, beyond the engine's own; `null` when they hold. */
  checkOptions(options: PolicyOptionsInput): OptionProblem | null;
  /** The claims the policy adds to an access token (`gen`, `softexp`). */
  extraClaims(input: PolicyClaimsInput): Record<string, unknown>;
  /** `soft`: renews a soft-expired token of a live session, once. */
  renewSoftExpired?(ctx: EngineContext, accessToken: string, client: RenewClient): Promise<TokenSet>;
  /** `exchange`: an expired token plus its session's handle buy a new token, once. */
  exchangeExpired?(
    ctx: EngineContext,
    accessToken: string,
    sessionHandle: string,
    client: RenewClient,
  ): Promise<TokenSet>;
  /** `sliding`: a renewed token for an authenticated request once the token is due, else `null`. */
  slide?(ctx: EngineContext, auth: BearerRecords, client: RenewClient): Promise<AccessGrant | null>;
}

/** What a policy module states; the rest defaults to "nothing special" in {@link definePolicy}. */
export type PolicySpec = Pick<
  SessionPolicy,
  'name' | 'accessTtl' | 'issuesRefreshToken' | 'issuesSessionHandle' | 'renewal'
> &
  Partial<
    Omit<SessionPolicy, 'name' | 'accessTtl' | 'issuesRefreshToken' | 'issuesSessionHandle' | 'renewal'>
  >;

/**
 * A frozen {@link SessionPolicy} from its spec: no time claims, no soft expiry, no relations to check
 * and no extra claims unless the spec says otherwise.
 */
export function definePolicy(spec: PolicySpec): SessionPolicy {
  return Object.freeze({
    timeClaims: Object.freeze([]),
    defaultSoftTtlSeconds: () => null,
    checkOptions: () => null,
    extraClaims: () => ({}),
    ...spec,
    accessTtl: Object.freeze({ ...spec.accessTtl }),
  });
}
