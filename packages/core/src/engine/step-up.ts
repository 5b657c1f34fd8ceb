import { ACR_ONE_FACTOR, ACR_TWO_FACTOR, checkStepUp } from '@tessera/protocol';
import { InsufficientUserAuthenticationError, TesseraError } from '../errors.ts';
import type { SessionRecord } from '../store/store.ts';
import { type Authenticated, type BearerRecords, bearerRecords } from './authenticate.ts';
import type { EngineContext } from './context.ts';

/** What an operation requires of the authentication behind a token (RFC 9470 §3). */
export interface AuthenticationRequirement {
  /**
   * Seconds since the user last authenticated, at most; `null` for no limit (an `acr` check alone).
   * Default: the engine's `reauthMaxAgeSeconds`.
   */
  maxAgeSeconds?: number | null | undefined;
  /** Acceptable `acr` values (`'1'`: one factor, `'2'`: two; or a value a sign-in named). Default: any. */
  acrValues?: readonly string[] | undefined;
}

/**
 * The `acr` a session's access tokens carry: the one its sign-in named (bring-your-own sign-in), else
 * `'2'` when its latest authentication used two factors (`amr` holds `mfa`) and `'1'` otherwise.
 */
export function sessionAcr(session: Pick<SessionRecord, 'acr' | 'amr'>): string {
  return session.acr ?? (session.amr.includes('mfa') ? ACR_TWO_FACTOR : ACR_ONE_FACTOR);
}

function checkedRequirement(
  ctx: EngineContext,
  requirement: unknown,
): { maxAgeSeconds?: number; acrValues?: readonly string[] } {
  const given = (typeof requirement === 'object' && requirement !== null ? requirement : {}) as Record<
    string,
    unknown
  >;
  const maxAgeSeconds =
    given.maxAgeSeconds === undefined ? ctx.options.reauthMaxAgeSeconds : given.maxAgeSeconds;
  const acrValues = given.acrValues ?? [];
  if (
    maxAgeSeconds !== null &&
    (typeof maxAgeSeconds !== 'number' || !Number.isSafeInteger(maxAgeSeconds) || maxAgeSeconds < 0)
  ) {
    throw new TesseraError('invalid_request', 'maxAgeSeconds must be a whole number of seconds, or null.');
  }
  if (
    !Array.isArray(acrValues) ||
    !acrValues.every((v) => typeof v === 'string' && /^[\x21-\x7e]{1,128}$/.test(v))
  ) {
    throw new TesseraError('invalid_request', 'acrValues must be a list of printable ASCII strings.');
  }
  return {
    ...(maxAgeSeconds === null ? {} : { maxAgeSeconds }),
    ...(acrValues.length > 0 ? { acrValues } : {}),
  };
}

/**
 * RFC 9470 step-up for sensitive operations (password change, two-factor changes, email change): throws
 * `insufficient_user_authentication` ({@link InsufficientUserAuthenticationError}, carrying the
 * requirement for the `WWW-Authenticate` challenge) unless the presented token's `auth_time` is at
 * most `maxAgeSeconds` old (default `reauthMaxAgeSeconds`, 10 minutes; `null`: no limit) and its `acr`
 * is acceptable.
 * `POST /auth/reauthenticate` (`engine.reauthenticate`) renews `auth_time`. Returns the records.
 * Throws `invalid_token` for an `auth` this engine did not make, `invalid_request` for a bad requirement.
 */
export function assertRecentAuthentication(
  ctx: EngineContext,
  auth: Authenticated,
  requirement?: AuthenticationRequirement,
): BearerRecords {
  const records = bearerRecords(ctx, auth);
  const checked = checkedRequirement(ctx, requirement);
  const problem = checkStepUp(records.claims, checked, ctx.clock.now());
  if (problem !== null) {
    throw new InsufficientUserAuthenticationError(problem, checked);
  }
  return records;
}
