import { availableParallelism } from 'node:os';
import { MAX_CLOCK_LEEWAY_SECONDS } from '@tessera/protocol';
import { type Clock, systemClock } from '../clock.ts';
import { boolean, configError, implementation, oneOf, show, wholeNumber } from '../internal/option-checks.ts';
import { type Argon2Params, meetsOwaspMinimum, OWASP_ARGON2ID, type PasswordHasher } from '../password.ts';
import { createMemoryRateLimiter, type RateLimiter } from '../rate-limit.ts';
import { createInProcessBus, type RevocationBus } from '../revocation-bus.ts';
import type { Store } from '../store/store.ts';
import { SIGNING_ALGS } from '../tokens/keyring.ts';
import { resolveAccountLifecycleOptions } from './account-lifecycle-options.ts';
import { DPOP_MODES } from './dpop.ts';
import { createDpopReplayCache } from './dpop-replay-cache.ts';
import { ENGINE_DEFAULTS, type EngineOptions, type ResolvedEngineOptions } from './options.ts';
import { POLICY_NAMES, policyNamed } from './policies/registry.ts';
import { rateLimitsOption } from './rate-limits.ts';
import { resolveTrustedIssuerFetch, resolveTrustedIssuers } from './trusted-issuers.ts';

const DAY = 86_400;
const MAX_SESSION_SECONDS = 400 * DAY;

/** The whole-number options checked by range alone: [min, max, unit]. */
const RANGES = {
  reuseGraceSeconds: [0, 300, 'seconds'],
  clockLeewaySeconds: [0, MAX_CLOCK_LEEWAY_SECONDS, 'seconds'],
  maxSessionsPerUser: [0, 1_000_000, ''],
  maxLoginAgeSeconds: [0, MAX_SESSION_SECONDS, 'seconds'],
  idTokenMaxAgeSeconds: [60, DAY, 'seconds'],
  reauthMaxAgeSeconds: [1, MAX_SESSION_SECONDS, 'seconds'],
  dpopProofMaxAgeSeconds: [5, 300, 'seconds'],
} as const;
const MAX_PROFILE_FIELDS = 32;
const PROFILE_FIELD = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * Claims a profile field may never shadow: RFC 7519 §4.1, RFC 9068 §2.2, RFC 8693 §4, RFC 9449 §6,
 * OpenID Connect's that verifiers read, and Tessera's own.
 */
const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'client_id',
  'scope',
  'auth_time',
  'acr',
  'amr',
  'azp',
  'nonce',
  'act',
  'may_act',
  'cnf',
  'groups',
  'roles',
  'entitlements',
  'email',
  'email_verified',
  'sid',
  'ver',
  'gen',
  'softexp',
  'token_type',
  'active',
  'typ',
]);

const STORE_METHODS = [
  'createUser',
  'findUserById',
  'findUserByEmail',
  'listUsers',
  'updateUser',
  'linkIdentity',
  'unlinkIdentity',
  'findUserByIdentity',
  'listIdentities',
  'acceptTotpStep',
  'setRecoveryCodes',
  'useRecoveryCode',
  'countRecoveryCodes',
  'createSession',
  'findSession',
  'rotateSession',
  'updateSessionAuth',
  'revokeSession',
  'revokeUserSessions',
  'listLiveSessions',
  'changePassword',
  'emergencyRevokeAll',
  'getGlobalNotBeforeMs',
  'sweepSessions',
  'listRevokedSince',
  'listUsersUpdatedSince',
  'listSigningKeys',
  'addSigningKey',
  'deleteSigningKey',
  'ping',
] as const;

/** An issuer or audience: an http(s) URL without query, fragment or credentials, or another plain string. */
function identifier(option: string, value: unknown): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > 2048 ||
    !value.isWellFormed() ||
    /[\s\p{Cc}]/u.test(value)
  ) {
    throw configError(
      option,
      `must be a non-empty string without spaces or control characters; got ${show(value)}.`,
    );
  }
  if (/^https?:/i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw configError(option, `is not a valid URL; got ${show(value)}.`);
    }
    if (url.search || url.hash || url.username || url.password) {
      throw configError(option, `must not have a query, fragment or credentials; got ${show(value)}.`);
    }
  }
  return value;
}

function profileFieldList(value: unknown): readonly string[] {
  if (!Array.isArray(value) || value.length > MAX_PROFILE_FIELDS) {
    throw configError('profileFields', `must be an array of at most ${MAX_PROFILE_FIELDS} field names.`);
  }
  const seen = new Set<string>();
  for (const field of value) {
    if (typeof field !== 'string' || !PROFILE_FIELD.test(field)) {
      throw configError('profileFields', `names must match ${PROFILE_FIELD.source}; got ${show(field)}.`);
    }
    if (RESERVED_CLAIMS.has(field)) {
      throw configError('profileFields', `cannot use ${show(field)}: it is a registered or Tessera claim.`);
    }
    if (seen.has(field)) throw configError('profileFields', `lists ${show(field)} twice.`);
    seen.add(field);
  }
  return Object.freeze([...seen]);
}

function argon2Option(value: unknown): Readonly<Argon2Params> {
  if (value === undefined) return OWASP_ARGON2ID;
  if (typeof value !== 'object' || value === null) {
    throw configError('argon2', `must be { memoryCost, timeCost, parallelism }; got ${show(value)}.`);
  }
  const given = value as Partial<Argon2Params>;
  const params: Argon2Params = {
    memoryCost: wholeNumber('argon2.memoryCost', given.memoryCost, 8, 4_194_304, 'KiB'),
    timeCost: wholeNumber('argon2.timeCost', given.timeCost, 1, 100),
    parallelism: wholeNumber('argon2.parallelism', given.parallelism, 1, 64),
  };
  if (given.insecureForTests === true) return Object.freeze({ ...params, insecureForTests: true });
  if (!meetsOwaspMinimum(params)) {
    throw configError(
      'argon2',
      `is weaker than OWASP's minimums for argon2id (e.g. memoryCost 19456 KiB with timeCost 2); set insecureForTests only in tests.`,
    );
  }
  return Object.freeze(params);
}

/**
 * Resolves and checks the options of an engine: the one place their defaults ({@link ENGINE_DEFAULTS},
 * the policy's token lifetimes) and rules live. Ranges: access TTL from 1 s to the policy's maximum,
 * soft TTL shorter than it, idle ≤ absolute ≤ 400 days, grace 0–300 s, leeway 0–60 s, caps ≥ 0,
 * re-authentication max age 1 s to 400 days,
 * argon2id at least OWASP's minimums; strings: issuer and audience, client id, profile field names.
 * Returns a frozen, fully resolved object.
 * Throws {@link TesseraError} `invalid_configuration` whose `field` names the option.
 * @example
 * const resolved = resolveEngineOptions({ store, secret, issuer: 'https://auth.example.com', policy: 'long-lived-token' });
 * resolved.accessTtlSeconds; // 604800: the policy's default
 */
export function resolveEngineOptions(options: EngineOptions): ResolvedEngineOptions {
  if (typeof options !== 'object' || options === null) {
    throw configError('options', 'must be an object.');
  }
  const store = implementation<Store>('store', options.store, STORE_METHODS);
  const secret = options.secret;
  if (!(secret instanceof Uint8Array) || secret.byteLength < 32) {
    throw configError('secret', 'must be at least 32 random bytes (a Uint8Array).');
  }
  const issuer = identifier('issuer', options.issuer);
  const audience = options.audience === undefined ? issuer : identifier('audience', options.audience);
  const clientId = options.clientId ?? ENGINE_DEFAULTS.clientId;
  if (typeof clientId !== 'string' || !/^[\x21-\x7e]{1,128}$/.test(clientId)) {
    throw configError('clientId', `must be 1 to 128 printable ASCII characters; got ${show(clientId)}.`);
  }
  const policyName = oneOf('policy', options.policy ?? ENGINE_DEFAULTS.policy, POLICY_NAMES);
  const policy = policyNamed(policyName);
  const accessTtlSeconds = wholeNumber(
    'accessTtlSeconds',
    options.accessTtlSeconds ?? policy.accessTtl.defaultSeconds,
    policy.accessTtl.minSeconds,
    policy.accessTtl.maxSeconds,
    `seconds under ${policyName}`,
  );
  const defaultSoft = policy.defaultSoftTtlSeconds(accessTtlSeconds);
  const givenSoft =
    options.softTtlSeconds === undefined
      ? undefined
      : wholeNumber('softTtlSeconds', options.softTtlSeconds, 1, policy.accessTtl.maxSeconds, 'seconds');
  // A soft TTL matters only to a policy with a soft expiry; elsewhere it is checked, then unused.
  const softTtlSeconds = defaultSoft === null ? null : (givenSoft ?? defaultSoft);
  // Where nothing renews the session (`renewal: 'none'`), it must outlive its one token: the defaults
  // stretch to the token's life, explicit values shorter than it are refused.
  const sessionFloor = policy.renewal === 'none' ? accessTtlSeconds : 1;
  const refreshAbsoluteTtlSeconds = wholeNumber(
    'refreshAbsoluteTtlSeconds',
    options.refreshAbsoluteTtlSeconds ?? Math.max(ENGINE_DEFAULTS.refreshAbsoluteTtlSeconds, sessionFloor),
    1,
    MAX_SESSION_SECONDS,
    'seconds',
  );
  const refreshIdleTtlSeconds = wholeNumber(
    'refreshIdleTtlSeconds',
    options.refreshIdleTtlSeconds ??
      Math.max(Math.min(ENGINE_DEFAULTS.refreshIdleTtlSeconds, refreshAbsoluteTtlSeconds), sessionFloor),
    1,
    MAX_SESSION_SECONDS,
    'seconds',
  );
  for (const [option, value] of [
    ['refreshAbsoluteTtlSeconds', refreshAbsoluteTtlSeconds],
    ['refreshIdleTtlSeconds', refreshIdleTtlSeconds],
  ] as const) {
    if (value < sessionFloor) {
      throw configError(
        option,
        `must be at least accessTtlSeconds (${accessTtlSeconds}) under ${policyName}: nothing renews the session while its one token lives; got ${value}.`,
      );
    }
  }
  if (refreshIdleTtlSeconds > refreshAbsoluteTtlSeconds) {
    throw configError(
      'refreshIdleTtlSeconds',
      `must not be longer than refreshAbsoluteTtlSeconds (${refreshAbsoluteTtlSeconds}); got ${refreshIdleTtlSeconds}.`,
    );
  }
  const problem = policy.checkOptions({
    accessTtlSeconds,
    softTtlSeconds,
    refreshIdleTtlSeconds,
    refreshAbsoluteTtlSeconds,
  });
  if (problem) throw configError(problem.option, problem.message);

  const rateLimits = rateLimitsOption(options.rateLimits);
  const argon2 = argon2Option(options.argon2);
  const onEvent = options.onEvent ?? null;
  const ranged = (option: keyof typeof RANGES): number => {
    const [min, max, unit] = RANGES[option];
    return wholeNumber(option, options[option] ?? ENGINE_DEFAULTS[option], min, max, unit);
  };
  const part = <T>(
    option: 'clock' | 'bus' | 'rateLimiter' | 'passwordHasher' | 'dpopReplayCache',
    methods: readonly string[],
  ) => (options[option] === undefined ? undefined : implementation<T>(option, options[option], methods));
  if (onEvent !== null && typeof onEvent !== 'function') throw configError('onEvent', 'must be a function.');

  return Object.freeze({
    store,
    secret,
    issuer,
    audience,
    clientId,
    signingAlg: oneOf('signingAlg', options.signingAlg ?? ENGINE_DEFAULTS.signingAlg, SIGNING_ALGS),
    signOffThread:
      options.signOffThread === undefined
        ? availableParallelism() > 1
        : boolean('signOffThread', options.signOffThread),
    policy: policyName,
    accessTtlSeconds,
    softTtlSeconds,
    refreshIdleTtlSeconds,
    refreshAbsoluteTtlSeconds,
    reuseGraceSeconds: ranged('reuseGraceSeconds'),
    clockLeewaySeconds: ranged('clockLeewaySeconds'),
    maxSessionsPerUser: ranged('maxSessionsPerUser'),
    maxLoginAgeSeconds: ranged('maxLoginAgeSeconds'),
    reauthMaxAgeSeconds: ranged('reauthMaxAgeSeconds'),
    endSessionsOnPasswordChange: boolean(
      'endSessionsOnPasswordChange',
      options.endSessionsOnPasswordChange ?? ENGINE_DEFAULTS.endSessionsOnPasswordChange,
    ),
    profileFields: profileFieldList(options.profileFields ?? ENGINE_DEFAULTS.profileFields),
    clock: part<Clock>('clock', ['now']) ?? systemClock,
    bus: part<RevocationBus>('bus', ['publish', 'subscribe', 'close']) ?? createInProcessBus(),
    rateLimiter: part<RateLimiter>('rateLimiter', ['hit', 'check', 'reset']) ?? createMemoryRateLimiter(),
    rateLimits,
    argon2,
    passwordHasher: part<PasswordHasher>('passwordHasher', ['hash', 'verify', 'verifyDummy']) ?? null,
    onEvent,
    trustedIssuers: resolveTrustedIssuers(options.trustedIssuers),
    trustedIssuerFetch: resolveTrustedIssuerFetch(
      options.trustedIssuerFetch,
      ENGINE_DEFAULTS.trustedIssuerFetch,
    ),
    idTokenMaxAgeSeconds: ranged('idTokenMaxAgeSeconds'),
    dpop: oneOf('dpop', options.dpop ?? ENGINE_DEFAULTS.dpop, DPOP_MODES),
    dpopNonce: boolean('dpopNonce', options.dpopNonce ?? ENGINE_DEFAULTS.dpopNonce),
    dpopProofMaxAgeSeconds: ranged('dpopProofMaxAgeSeconds'),
    // Its own memory by default: a flood of proofs must never crowd out the login limits' windows, and
    // a live proof id must never be evicted (the rate limiter drops windows when full).
    dpopReplayCache:
      part<RateLimiter>('dpopReplayCache', ['hit', 'check', 'reset']) ?? createDpopReplayCache(),
    ...resolveAccountLifecycleOptions(options),
  });
}
