import type { EngineOptions, PolicyName } from '@tessera/core';
import { parseWebhookSecret } from '@tessera/core/webhooks';
import { parseAllowedHosts, parseTrustProxy, type TrustProxy } from '@tessera/server';
import { z } from 'zod';
import {
  decodeSecret,
  durationSeconds,
  flag,
  httpUrl,
  json,
  list,
  oneOf,
  type SettingParser,
  text,
  wholeNumber,
} from './config-parsers.ts';
import type { LogFormat, LogLevel } from './log.ts';

/**
 * The engine options that settings give: every option of `createEngine` that is a plain value. Only
 * those set are present (and `issuer`, which the standalone derives from where it listens); the
 * engine fills the rest with its own defaults (`ENGINE_DEFAULTS`, the policy's token lifetimes).
 */
export type EngineConfig = Readonly<
  Omit<
    EngineOptions,
    'store' | 'secret' | 'clock' | 'bus' | 'rateLimiter' | 'passwordHasher' | 'onEvent' | 'dpopReplayCache'
  >
>;

/** The validated, complete server configuration. Durations in seconds. */
export interface TesseraConfig {
  /**
   * Options for `createEngine`, checked by the engine's own `resolveEngineOptions`; the server and
   * the CLI spread them into `createEngine` beside the store and the secret.
   */
  readonly engine: EngineConfig;
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  readonly redisUrl: string | null;
  readonly dataDir: string;
  /** From TESSERA_SECRET; `null` means read or generate `<dataDir>/secret`. */
  readonly secret: string | null;
  readonly cookieSecure: boolean;
  readonly allowedOrigins: readonly string[];
  readonly serviceToken: string | null;
  /** From TESSERA_TRUST_PROXY: `null` (no proxy), a hop count, or the proxies' addresses and CIDRs. */
  readonly trustProxy: TrustProxy;
  /** From TESSERA_ALLOWED_HOSTS; `null` means the issuer's host (plus loopback names for a loopback issuer). */
  readonly allowedHosts: readonly string[] | null;
  /** Longest time a request (headers and body) may take to arrive; 0 = none. */
  readonly requestTimeoutSeconds: number;
  /** Longest time the request headers may take to arrive. */
  readonly headersTimeoutSeconds: number;
  /** How long an idle keep-alive connection stays open. */
  readonly keepAliveTimeoutSeconds: number;
  /** Open revocation streams allowed per client address. */
  readonly feedStreamsPerCaller: number;
  /** Open revocation streams allowed in total. */
  readonly feedStreamsTotal: number;
  readonly logLevel: LogLevel;
  /** From TESSERA_LOG_FORMAT: `pretty` lines, `json` lines, or `auto` (pretty on a terminal, else JSON). */
  readonly logFormat: LogFormat;
  /** From TESSERA_WEBHOOK_URL: where Standard Webhooks events are POSTed; `null`: no webhooks (and no one-time-token routes). */
  readonly webhookUrl: string | null;
  /** From TESSERA_WEBHOOK_SECRET (`whsec_` + base64): the signing secret. Never logged. */
  readonly webhookSecret: string | null;
  /** Settings given in a deprecated form, one sentence each (the server logs them at start). */
  readonly deprecations: readonly string[];
  /**
   * `TESSERA_*` variables that are not settings (a typo is otherwise ignored in silence), each with the
   * closest setting's name when one is near; logged at start, printed by admin commands.
   */
  readonly warnings: readonly string[];
}

/** The standalone's own settings: the {@link TesseraConfig} fields besides `engine`, `deprecations` and `warnings`. */
export type ServerSettings = Omit<TesseraConfig, 'engine' | 'deprecations' | 'warnings'>;

/** The settings without a default of their own: unset, they are derived or `null`. */
export type Derived =
  | 'databaseUrl'
  | 'redisUrl'
  | 'secret'
  | 'allowedOrigins'
  | 'serviceToken'
  | 'allowedHosts'
  | 'webhookUrl'
  | 'webhookSecret';

/**
 * One row of the settings table. An `engine` row feeds the engine option `key`; its default and its
 * range are the engine's. A `server` row feeds the {@link TesseraConfig} field `key`, with its
 * default (text, parsed like user input; none when it is derived from other settings) and range here.
 */
export type Setting =
  /** `entry`: the setting fills one entry of an object option (`oneTimeTokenTtlSeconds.magic_link`). */
  | { target: 'engine'; key: keyof EngineConfig; entry?: string; parse: SettingParser<unknown> }
  | { target: 'server'; key: keyof ServerSettings; default?: string; parse: SettingParser<unknown> };

function engine<K extends keyof EngineConfig>(key: K, parse: SettingParser<EngineConfig[K]>): Setting {
  return { target: 'engine', key, parse };
}

function engineEntry<K extends keyof EngineConfig>(
  key: K,
  entry: string,
  parse: SettingParser<unknown>,
): Setting {
  return { target: 'engine', key, entry, parse };
}

function server<K extends keyof ServerSettings>(
  key: K,
  defaultText: string | undefined,
  parse: SettingParser<ServerSettings[K] | undefined>,
): Setting {
  return defaultText === undefined
    ? { target: 'server', key, parse }
    : { target: 'server', key, default: defaultText, parse };
}

// TESSERA_TRUSTED_ISSUERS keys (DESIGN.md) → the engine's `TrustedIssuer` fields.
const TRUSTED_ISSUER_KEYS: Readonly<Record<string, string>> = Object.freeze({
  issuer: 'issuer',
  audience: 'audience',
  jwks_uri: 'jwksUri',
  merge_by_email: 'mergeByEmail',
  algorithms: 'algorithms',
});

const ON_OFF = flag(['true', '1', 'yes', 'on'], ['false', '0', 'no', 'off']);

function refine<T>(parse: SettingParser<T>, check: (value: T) => boolean, message: (value: T) => string) {
  return parse.refine(check, { error: (issue) => message(issue.input as T) }) as SettingParser<T>;
}

/**
 * Every setting: environment name → how its text parses → the engine option or server field it feeds.
 * An empty value means unset. To add a setting, add its row (and, for a server setting, its field).
 */
export const SETTINGS: Readonly<Record<string, Setting>> = Object.freeze({
  // Engine options: ranges, relations and defaults are resolveEngineOptions's.
  TESSERA_ISSUER: engine(
    'issuer',
    httpUrl().transform((url) => url.replace(/\/+$/, '')),
  ),
  TESSERA_AUDIENCE: engine('audience', text()),
  TESSERA_CLIENT_ID: engine('clientId', text()),
  TESSERA_SIGNING_ALG: engine('signingAlg', text() as SettingParser<EngineConfig['signingAlg']>),
  TESSERA_SIGNING_THREAD: engine(
    'signOffThread',
    // `auto`: the engine's default (a worker when there is more than one core).
    oneOf(['auto', 'on', 'off'], (value) => (value === 'auto' ? undefined : value === 'on')),
  ),
  TESSERA_POLICY: engine('policy', text() as SettingParser<PolicyName>),
  TESSERA_ACCESS_TTL: engine('accessTtlSeconds', durationSeconds()),
  TESSERA_SOFT_TTL: engine('softTtlSeconds', durationSeconds()),
  TESSERA_REFRESH_IDLE_TTL: engine('refreshIdleTtlSeconds', durationSeconds()),
  TESSERA_REFRESH_ABSOLUTE_TTL: engine('refreshAbsoluteTtlSeconds', durationSeconds()),
  TESSERA_REUSE_GRACE: engine('reuseGraceSeconds', durationSeconds()),
  TESSERA_CLOCK_LEEWAY: engine('clockLeewaySeconds', durationSeconds()),
  TESSERA_MAX_LOGIN_AGE: engine('maxLoginAgeSeconds', durationSeconds()),
  TESSERA_MAX_SESSIONS_PER_USER: engine('maxSessionsPerUser', wholeNumber()),
  TESSERA_END_SESSIONS_ON_PASSWORD_CHANGE: engine('endSessionsOnPasswordChange', ON_OFF),
  TESSERA_REAUTH_MAX_AGE: engine('reauthMaxAgeSeconds', durationSeconds()),
  // RFC 9449: `off`, `optional` or `required`; the engine judges the value.
  TESSERA_DPOP: engine('dpop', text() as SettingParser<EngineConfig['dpop']>),
  TESSERA_DPOP_NONCE: engine('dpopNonce', ON_OFF),
  TESSERA_DPOP_PROOF_MAX_AGE: engine('dpopProofMaxAgeSeconds', durationSeconds()),
  // DESIGN.md's JSON shape (snake_case keys); the engine judges each entry (URLs, audiences, algorithms).
  TESSERA_TRUSTED_ISSUERS: engine(
    'trustedIssuers',
    json(z.array(z.record(z.string(), z.unknown()))).transform((entries, ctx) =>
      entries.map((entry, index) => {
        const renamed: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(entry)) {
          const option = TRUSTED_ISSUER_KEYS[key];
          if (option === undefined) {
            ctx.addIssue({
              code: 'custom',
              message: `entry ${index}: unknown key "${key}" (use ${Object.keys(TRUSTED_ISSUER_KEYS).join(', ')}).`,
            });
            return z.NEVER;
          }
          renamed[option] = value;
        }
        return renamed;
      }),
    ) as unknown as SettingParser<EngineConfig['trustedIssuers']>,
  ),
  TESSERA_RATE_LIMIT: engine(
    'rateLimits',
    // On: the engine's limits; off: none.
    flag(['on', 'true', '1'], ['off', 'false', '0']).transform((on) => (on ? undefined : false)),
  ),

  // The standalone server's own settings.
  TESSERA_PORT: server(
    'port',
    '4000',
    refine(
      text(),
      (value) => /^\d{1,5}$/.test(value) && Number(value) <= 65_535,
      (value) => `"${value}" must be a port number from 0 to 65535.`,
    ).transform(Number),
  ),
  TESSERA_HOST: server(
    'host',
    '127.0.0.1',
    refine(
      text(),
      (value) => !/[\s/]/.test(value),
      (value) => `"${value}" is not a host name or address.`,
    ),
  ),
  TESSERA_DATA_DIR: server('dataDir', './.tessera', text()),
  // Default: sqlite:<data dir>/tessera.db.
  TESSERA_DATABASE_URL: server(
    'databaseUrl',
    undefined,
    refine(
      text(),
      (value) => value.startsWith('sqlite:') || /^postgres(ql)?:\/\//.test(value),
      () => 'must start with sqlite: or postgres://.',
    ).refine((value) => value !== 'sqlite:', { error: 'a sqlite: URL needs a file path.' }),
  ),
  TESSERA_REDIS_URL: server(
    'redisUrl',
    undefined,
    refine(
      text(),
      (value) => /^rediss?:\/\//.test(value),
      () => 'must start with redis:// or rediss://.',
    ),
  ),
  TESSERA_SECRET: server(
    'secret',
    undefined,
    refine(
      text(),
      (value) => decodeSecret(value) !== null,
      () => 'must be at least 32 bytes, base64url-encoded (43+ characters).',
    ),
  ),
  TESSERA_COOKIE_SECURE: server('cookieSecure', 'true', ON_OFF),
  // Default: the issuer's origin (both loopback spellings for a loopback issuer).
  TESSERA_ALLOWED_ORIGINS: server(
    'allowedOrigins',
    undefined,
    list(
      refine(
        httpUrl(),
        (value) => new URL(value).origin === value.replace(/\/$/, ''),
        (value) => `"${value}" must be an origin (scheme://host[:port]) only.`,
      ).transform((value) => new URL(value).origin),
    ),
  ),
  TESSERA_SERVICE_TOKEN: server(
    'serviceToken',
    undefined,
    refine(
      text(),
      (value) => value.length >= 32,
      () => 'must be at least 32 characters.',
    ),
  ),
  TESSERA_TRUST_PROXY: server(
    'trustProxy',
    '0',
    text().transform((value, ctx) => {
      try {
        return parseTrustProxy(value);
      } catch (error) {
        ctx.issues.push({
          code: 'custom',
          input: value,
          message: `${(error as Error).message} Use a hop count (1, 2, …) or comma-separated proxy addresses and CIDRs.`,
        });
        return null;
      }
    }),
  ),
  // Default: the issuer's host (plus loopback names for a loopback issuer), decided by the handler.
  TESSERA_ALLOWED_HOSTS: server(
    'allowedHosts',
    undefined,
    list(text()).transform((hosts, ctx) => {
      try {
        return parseAllowedHosts(hosts);
      } catch (error) {
        ctx.issues.push({ code: 'custom', input: hosts, message: (error as Error).message });
        return [];
      }
    }),
  ),
  TESSERA_REQUEST_TIMEOUT: server('requestTimeoutSeconds', '30s', durationSeconds({ min: 0, max: 3600 })),
  TESSERA_HEADERS_TIMEOUT: server('headersTimeoutSeconds', '10s', durationSeconds({ min: 1, max: 600 })),
  // At least 1 s: Node reads 0 as "no timeout", and idle connections would stay forever.
  TESSERA_KEEP_ALIVE_TIMEOUT: server('keepAliveTimeoutSeconds', '5s', durationSeconds({ min: 1, max: 600 })),
  TESSERA_FEED_STREAMS_PER_CALLER: server(
    'feedStreamsPerCaller',
    '16',
    wholeNumber({ min: 1, max: 100_000 }),
  ),
  TESSERA_FEED_STREAMS_TOTAL: server('feedStreamsTotal', '1000', wholeNumber({ min: 1, max: 1_000_000 })),
  TESSERA_LOG_LEVEL: server(
    'logLevel',
    'info',
    oneOf<LogLevel>(['silent', 'error', 'warn', 'info', 'debug']),
  ),
  TESSERA_LOG_FORMAT: server('logFormat', 'auto', oneOf<LogFormat>(['auto', 'pretty', 'json'])),

  // Webhooks (the URL and the secret go together: resolveConfig checks) and one-time-token lifetimes.
  // A query is kept (a receiver may route by it); credentials and fragments are refused.
  TESSERA_WEBHOOK_URL: server('webhookUrl', undefined, httpUrl({ query: true })),
  TESSERA_WEBHOOK_SECRET: server(
    'webhookSecret',
    undefined,
    refine(
      text(),
      (value) => {
        try {
          parseWebhookSecret(value);
          return true;
        } catch {
          return false;
        }
      },
      // Never the value: it is a secret.
      () =>
        'must be "whsec_" followed by the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32)).',
    ),
  ),
  TESSERA_WEBHOOK_TIMEOUT: engine('webhookTimeoutSeconds', durationSeconds()),
  TESSERA_RESET_TOKEN_TTL: engineEntry('oneTimeTokenTtlSeconds', 'password_reset', durationSeconds()),
  TESSERA_VERIFICATION_TOKEN_TTL: engineEntry(
    'oneTimeTokenTtlSeconds',
    'email_verification',
    durationSeconds(),
  ),
  TESSERA_MAGIC_LINK_TTL: engineEntry('oneTimeTokenTtlSeconds', 'magic_link', durationSeconds()),
  TESSERA_EMAIL_CHANGE_TOKEN_TTL: engineEntry('oneTimeTokenTtlSeconds', 'email_change', durationSeconds()),
} satisfies Record<`TESSERA_${string}`, Setting>);

/** Every setting's environment name. */
export const SETTING_NAMES: readonly string[] = Object.freeze(Object.keys(SETTINGS));

/**
 * The defaults of the standalone's own settings, as text parsed like user input. Engine settings have
 * none here: their defaults are the engine's (`ENGINE_DEFAULTS`, the policy's token lifetimes).
 */
export const DEFAULTS: Readonly<Record<string, string>> = Object.freeze(
  Object.fromEntries(
    Object.entries(SETTINGS).flatMap(([name, setting]) =>
      setting.target === 'server' && setting.default !== undefined ? [[name, setting.default]] : [],
    ),
  ),
);

/** The setting that feeds each engine option, to name it when the engine refuses a value. */
export const SETTING_OF_OPTION: ReadonlyMap<string, string> = new Map(
  Object.entries(SETTINGS).flatMap(([name, setting]) =>
    setting.target === 'engine'
      ? [[setting.entry === undefined ? setting.key : `${setting.key}.${setting.entry}`, name] as const]
      : [],
  ),
);
