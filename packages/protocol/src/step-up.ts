import { challenge } from './challenge.ts';

/** The RFC 9470 §3 error code of a token whose authentication is too old or too weak. */
export const INSUFFICIENT_USER_AUTHENTICATION = 'insufficient_user_authentication';

/** `acr` of a session whose sign-in (or latest re-authentication) used one factor. */
export const ACR_ONE_FACTOR = '1';
/** `acr` of a session whose sign-in (or latest re-authentication) used two factors (`amr` has `mfa`). */
export const ACR_TWO_FACTOR = '2';

/** What a route requires of the authentication behind a token (RFC 9470 §3). */
export interface StepUpRequirement {
  /** Seconds the user's last authentication (`auth_time`) may be old at most. */
  maxAgeSeconds?: number | undefined;
  /** Acceptable `acr` values; the token's `acr` must be one of them. */
  acrValues?: readonly string[] | undefined;
}

const ACR_VALUE = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;

/**
 * The requirement of a middleware's `{ maxAge, acr }` options (`@tessera/verify`'s `requireAuth`,
 * `@tessera/server`'s `requireSession`), checked once when the middleware is made: `maxAge` a whole
 * number of seconds (0 or more), `acr` one value or a list of printable ASCII values without spaces,
 * quotes or backslashes (they go into a challenge). Throws a `TypeError` naming `owner` and the option.
 */
export function stepUpOptions(
  owner: string,
  options: { maxAge?: unknown; acr?: unknown },
): StepUpRequirement {
  const { maxAge, acr } = options;
  if (maxAge !== undefined && !(Number.isSafeInteger(maxAge) && (maxAge as number) >= 0)) {
    throw new TypeError(
      `${owner}: maxAge must be a whole number of seconds (0 or more); got ${String(maxAge)}.`,
    );
  }
  const values = acr === undefined ? undefined : typeof acr === 'string' ? [acr] : acr;
  if (
    values !== undefined &&
    (!Array.isArray(values) || !values.every((v) => typeof v === 'string' && ACR_VALUE.test(v)))
  ) {
    throw new TypeError(`${owner}: acr must be a value or a list of values without spaces or quotes.`);
  }
  return { maxAgeSeconds: maxAge as number | undefined, acrValues: values as string[] | undefined };
}

/**
 * Checks the claims of an already verified token against a requirement (RFC 9470 §3): `auth_time`
 * (seconds) no older than `maxAgeSeconds` at `nowMs`, and `acr` one of `acrValues`. A token without
 * `auth_time` (or `acr`) fails the requirement that needs it. Returns the sentence to send with
 * {@link INSUFFICIENT_USER_AUTHENTICATION}, or `null` when the token meets it.
 */
export function checkStepUp(
  claims: Readonly<Record<string, unknown>>,
  requirement: StepUpRequirement,
  nowMs: number,
): string | null {
  const { maxAgeSeconds, acrValues } = requirement;
  if (maxAgeSeconds !== undefined) {
    const authTime = claims.auth_time;
    if (typeof authTime !== 'number' || !Number.isFinite(authTime)) {
      return 'The access token does not say when the user authenticated; authenticate again.';
    }
    if (nowMs / 1000 - authTime > maxAgeSeconds) {
      return `This needs an authentication within the last ${maxAgeSeconds} seconds; authenticate again.`;
    }
  }
  if (acrValues !== undefined && acrValues.length > 0) {
    const acr = claims.acr;
    if (typeof acr !== 'string' || !acrValues.includes(acr)) {
      return 'This needs a stronger authentication; authenticate again with another factor.';
    }
  }
  return null;
}

/**
 * The RFC 9470 §3 challenge: `Bearer realm="…", error="insufficient_user_authentication",
 * error_description="…", max_age=…, acr_values="…"` (the last two only when required).
 * @example
 * stepUpChallenge('api', 'Authenticate again.', { maxAgeSeconds: 600 });
 * // 'Bearer realm="api", error="insufficient_user_authentication", error_description="Authenticate again.", max_age=600'
 */
export function stepUpChallenge(realm: string, description: string, requirement: StepUpRequirement): string {
  return challenge('Bearer', {
    realm,
    error: INSUFFICIENT_USER_AUTHENTICATION,
    error_description: description,
    max_age: requirement.maxAgeSeconds,
    acr_values: requirement.acrValues?.length ? requirement.acrValues.join(' ') : undefined,
  });
}

/** What an RFC 9470 challenge asks for: `maxAge` in seconds and the `acr` values, each `null` when absent. */
export interface StepUpRequest {
  maxAge: number | null;
  /** The `acr_values` parameter as sent: acceptable values separated by spaces. */
  acr: string | null;
}

/**
 * Reads a `WWW-Authenticate` header: the step-up it asks for when its `error` parameter is
 * `insufficient_user_authentication` (RFC 9470 §3), else `null`. Parameters are read as RFC 9110
 * §11.2 auth-params (a token or a quoted string each; the first of a name counts), so text inside a
 * quoted `error_description` is never taken for a parameter.
 * @example
 * readStepUpChallenge('Bearer error="insufficient_user_authentication", max_age=600'); // { maxAge: 600, acr: null }
 */
export function readStepUpChallenge(header: string | null | undefined): StepUpRequest | null {
  const params: Record<string, string> = {};
  for (const [, name = '', quoted, token] of (header ?? '').matchAll(
    /([\w-]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))/g,
  )) {
    params[name.toLowerCase()] ??= quoted === undefined ? (token ?? '') : quoted.replace(/\\(.)/g, '$1');
  }
  if (params.error !== INSUFFICIENT_USER_AUTHENTICATION) return null;
  const maxAge = params.max_age;
  return {
    maxAge: maxAge !== undefined && /^\d{1,10}$/.test(maxAge) ? Number(maxAge) : null,
    acr: params.acr_values ?? null,
  };
}
