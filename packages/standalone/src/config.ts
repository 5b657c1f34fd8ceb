import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  createMemoryStore,
  type EngineOptions,
  isTesseraError,
  POLICY_NAMES,
  type PolicyName,
  resolveEngineOptions,
} from '@tessera/core';
import { parseAllowedHosts, parseTrustProxy, type TrustProxy } from '@tessera/server';
import {
  durationSeconds,
  flag,
  httpUrl,
  list,
  oneOf,
  parseSetting,
  type SettingParser,
  text,
  wholeNumber,
} from './config-parsers.ts';

/** Session policies (TESSERA_POLICY). */
export const POLICIES: readonly PolicyName[] = POLICY_NAMES;

/** Log levels (TESSERA_LOG_LEVEL), quietest first. */
type LogLevel = 'silent' | 'error' | 'warn' | 'info' | 'debug';

/**
 * The engine options that settings give: every option of `createEngine` that is a plain value. Only
 * those set are present (and `issuer`, which the standalone derives from where it listens); the
 * engine fills the rest with its own defaults (`ENGINE_DEFAULTS`, the policy's token lifetimes).
 */
export type EngineConfig = Readonly<
  Omit<EngineOptions, 'store' | 'secret' | 'clock' | 'bus' | 'rateLimiter' | 'passwordHasher' | 'onEvent'>
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
  /** Settings given in a deprecated form, one sentence each (the server logs them at start). */
  readonly deprecations: readonly string[];
}

/** The standalone's own settings: the {@link TesseraConfig} fields besides `engine` and `deprecations`. */
type ServerSettings = Omit<TesseraConfig, 'engine' | 'deprecations'>;

/** The settings without a default of their own: unset, they are derived or `null`. */
type Derived = 'databaseUrl' | 'redisUrl' | 'secret' | 'allowedOrigins' | 'serviceToken' | 'allowedHosts';

/**
 * One row of the settings table. An `engine` row feeds the engine option `key`; its default and its
 * range are the engine's. A `server` row feeds the {@link TesseraConfig} field `key`, with its
 * default (text, parsed like user input; none when it is derived from other settings) and range here.
 */
type Setting =
  | { target: 'engine'; key: keyof EngineConfig; parse: SettingParser<unknown> }
  | { target: 'server'; key: keyof ServerSettings; default?: string; parse: SettingParser<unknown> };

function engine<K extends keyof EngineConfig>(key: K, parse: SettingParser<EngineConfig[K]>): Setting {
  return { target: 'engine', key, parse };
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

const ON_OFF = flag(['true', '1', 'yes', 'on'], ['false', '0', 'no', 'off']);

function refine<T>(parse: SettingParser<T>, check: (value: T) => boolean, message: (value: T) => string) {
  return parse.refine(check, { error: (issue) => message(issue.input as T) }) as SettingParser<T>;
}

/**
 * Every setting: environment name → how its text parses → the engine option or server field it feeds.
 * An empty value means unset. To add a setting, add its row (and, for a server setting, its field).
 */
const SETTINGS: Readonly<Record<string, Setting>> = Object.freeze({
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
const SETTING_OF_OPTION: ReadonlyMap<string, string> = new Map(
  Object.entries(SETTINGS).flatMap(([name, setting]) =>
    setting.target === 'engine' ? [[setting.key, name] as const] : [],
  ),
);

/** A setting that failed validation; the message names the setting and says what is expected. */
export class ConfigError extends Error {
  readonly setting: string;
  constructor(setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.name = 'ConfigError';
    this.setting = setting;
  }
}

/** Where settings come from: the environment, then an optional JSON file of the same names. */
export interface ConfigSources {
  env?: Readonly<Record<string, string | undefined>>;
  /** A JSON file whose keys are the environment names (`{"TESSERA_ACCESS_TTL": "5m"}`). */
  configFile?: string;
  /** Base directory for relative paths. Default: the working directory. */
  cwd?: string;
}

function readConfigFile(path: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new ConfigError('TESSERA_CONFIG', `cannot read ${path} as JSON (${(cause as Error).message}).`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError('TESSERA_CONFIG', `${path} must hold a JSON object.`);
  }
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(key in SETTINGS)) throw new ConfigError(key, `unknown setting in ${path}.`);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new ConfigError(key, 'must be a string, number or boolean.');
    }
    out[key] = String(value);
  }
  return out;
}

// Stand-ins for what the server opens later (the store, the secret), so the engine judges every
// option it will be given before anything is opened, created or listened on.
const STAND_IN = { store: createMemoryStore(), secret: new Uint8Array(32) };

/**
 * Has the engine judge `options` (ranges, relations, names); its refusal becomes a {@link ConfigError}
 * naming the setting, its message speaking of settings rather than options.
 */
function checkEngineOptions(options: EngineConfig): void {
  try {
    resolveEngineOptions({ ...options, ...STAND_IN });
  } catch (error) {
    if (!isTesseraError(error) || error.code !== 'invalid_configuration') throw error;
    const option = error.field ?? 'options';
    let message = error.message.startsWith(`${option} `)
      ? error.message.slice(option.length + 1)
      : error.message;
    for (const [other, setting] of SETTING_OF_OPTION) {
      message = message.replace(new RegExp(`\\b${other}\\b`, 'g'), setting);
    }
    throw new ConfigError(SETTING_OF_OPTION.get(option) ?? option, message);
  }
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Reads the settings through the table (environment first, then the file named by `configFile` or
 * `TESSERA_CONFIG`, then the standalone's {@link DEFAULTS}), derives the defaults that depend on other
 * settings (issuer, database URL, allowed origins), and has the engine judge its options. Throws
 * {@link ConfigError} naming the first bad setting. The result is frozen.
 * @example
 * const config = resolveConfig({ env: { TESSERA_ACCESS_TTL: '5m' } });
 * const engine = await createEngine({ ...config.engine, store, secret });
 */
export function resolveConfig(sources: ConfigSources = {}): TesseraConfig {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const fileName = sources.configFile ?? env.TESSERA_CONFIG;
  const fromFile = fileName ? readConfigFile(resolve(cwd, fileName)) : {};
  const given = (name: string): string | undefined =>
    [env[name], fromFile[name]]
      .map((value) => value?.trim())
      .find((value) => value !== undefined && value !== '');

  const engineOptions: Record<string, unknown> = {};
  const values: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(SETTINGS)) {
    const input = given(name) ?? (setting.target === 'server' ? setting.default : undefined);
    if (input === undefined) continue;
    const value = parseSetting(setting.parse, input, (message) => {
      throw new ConfigError(name, message);
    });
    if (setting.target === 'engine') {
      if (value !== undefined) engineOptions[setting.key] = value;
    } else {
      values[setting.key] = value;
    }
  }
  const settings = values as Omit<ServerSettings, Derived> & Partial<Pick<ServerSettings, Derived>>;

  const dataDir = resolve(cwd, settings.dataDir);
  const host = settings.host;
  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const issuer =
    (engineOptions.issuer as string | undefined) ??
    `http://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${settings.port}`;
  const engineConfig: EngineConfig = Object.freeze({ ...engineOptions, issuer });
  checkEngineOptions(engineConfig);

  const issuerUrl = new URL(issuer);
  const allowedOrigins = settings.allowedOrigins?.length ? [...settings.allowedOrigins] : [issuerUrl.origin];
  // A local issuer is reached as both localhost and 127.0.0.1: allow both spellings.
  if (!settings.allowedOrigins?.length && LOOPBACK_NAMES.has(issuerUrl.hostname)) {
    for (const name of ['127.0.0.1', 'localhost']) {
      const alias = new URL(issuerUrl.origin);
      alias.hostname = name;
      if (!allowedOrigins.includes(alias.origin)) allowedOrigins.push(alias.origin);
    }
  }

  const serviceToken = settings.serviceToken ?? null;
  const trustText = given('TESSERA_TRUST_PROXY')?.toLowerCase();
  const deprecations: string[] = [];
  if (trustText === 'true' || trustText === 'false') {
    deprecations.push(
      `TESSERA_TRUST_PROXY=${trustText} is deprecated: use ${trustText === 'true' ? '1 (one proxy hop)' : '0'}, a hop count, or the proxies' CIDRs.`,
    );
  }
  if (settings.trustProxy !== null && serviceToken === null) {
    throw new ConfigError(
      'TESSERA_TRUST_PROXY',
      'needs TESSERA_SERVICE_TOKEN: with proxies trusted, loopback-only service routes would trust the address the proxies report.',
    );
  }
  if (
    settings.requestTimeoutSeconds !== 0 &&
    settings.headersTimeoutSeconds > settings.requestTimeoutSeconds
  ) {
    throw new ConfigError('TESSERA_HEADERS_TIMEOUT', 'must not be longer than TESSERA_REQUEST_TIMEOUT.');
  }

  return Object.freeze({
    engine: engineConfig,
    port: settings.port,
    host,
    databaseUrl: settings.databaseUrl ?? `sqlite:${resolve(dataDir, 'tessera.db')}`,
    redisUrl: settings.redisUrl ?? null,
    dataDir,
    secret: settings.secret ?? null,
    cookieSecure: settings.cookieSecure,
    allowedOrigins: Object.freeze(allowedOrigins),
    serviceToken,
    trustProxy: settings.trustProxy,
    allowedHosts: settings.allowedHosts ? Object.freeze(settings.allowedHosts) : null,
    requestTimeoutSeconds: settings.requestTimeoutSeconds,
    headersTimeoutSeconds: settings.headersTimeoutSeconds,
    keepAliveTimeoutSeconds: settings.keepAliveTimeoutSeconds,
    feedStreamsPerCaller: settings.feedStreamsPerCaller,
    feedStreamsTotal: settings.feedStreamsTotal,
    logLevel: settings.logLevel,
    deprecations: Object.freeze(deprecations),
  });
}

/** Decodes a secret given as base64url (or base64); `null` when it is under 32 bytes or not base64. */
export function decodeSecret(text: string): Uint8Array | null {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9_\-+/]+=*$/.test(trimmed)) return null;
  const bytes = Buffer.from(trimmed.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), 'base64url');
  return bytes.length >= 32 ? new Uint8Array(bytes) : null;
}
