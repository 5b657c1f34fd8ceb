import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  POLICY_DEFAULT_ACCESS_TTL_SECONDS,
  POLICY_NAMES,
  type PolicyName,
  parseDurationSeconds,
  SIGNING_ALGS,
  type SigningAlg,
} from '@tessera/core';
import { parseWebhookSecret } from '@tessera/core/webhooks';
import { parseAllowedHosts, parseTrustProxy, type TrustProxy } from '@tessera/server';

/** Session policies (TESSERA_POLICY). */
export const POLICIES: readonly PolicyName[] = POLICY_NAMES;

/** The validated, complete server configuration. Durations in seconds. */
export interface TesseraConfig {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  readonly redisUrl: string | null;
  readonly issuer: string;
  readonly audience: string;
  readonly clientId: string;
  readonly signingAlg: SigningAlg;
  /** From TESSERA_SIGNING_THREAD: sign on a worker thread; `null` = when there is more than one core. */
  readonly signingThread: boolean | null;
  readonly accessTtlSeconds: number;
  readonly refreshIdleTtlSeconds: number;
  readonly refreshAbsoluteTtlSeconds: number;
  readonly reuseGraceSeconds: number;
  readonly dataDir: string;
  /** From TESSERA_SECRET; `null` means read or generate `<dataDir>/secret`. */
  readonly secret: string | null;
  readonly cookieSecure: boolean;
  readonly allowedOrigins: readonly string[];
  readonly clockLeewaySeconds: number;
  readonly rateLimit: boolean;
  readonly serviceToken: string | null;
  readonly policy: PolicyName;
  /** `soft-expiry` only: the soft lifetime of access tokens. */
  readonly softTtlSeconds: number;
  /** Refuse renewal this long after login whatever the activity; 0 = off. */
  readonly maxLoginAgeSeconds: number;
  /** End the user's other sessions on a password change. */
  readonly endSessionsOnPasswordChange: boolean;
  readonly maxSessionsPerUser: number;
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
  readonly logLevel: 'silent' | 'error' | 'warn' | 'info' | 'debug';
  /** From TESSERA_WEBHOOK_URL: where Standard Webhooks events are POSTed; `null`: no webhooks (and no one-time-token routes). */
  readonly webhookUrl: string | null;
  /** From TESSERA_WEBHOOK_SECRET (`whsec_` + base64): the signing secret. Never logged. */
  readonly webhookSecret: string | null;
  /** From TESSERA_WEBHOOK_TIMEOUT: how long one delivery attempt may take. */
  readonly webhookTimeoutSeconds: number;
  /** Lifetimes of one-time tokens (TESSERA_RESET_TOKEN_TTL, …_VERIFICATION_…, …_MAGIC_LINK_…, …_EMAIL_CHANGE_…). */
  readonly oneTimeTokenTtlSeconds: Readonly<{
    password_reset: number;
    email_verification: number;
    magic_link: number;
    email_change: number;
  }>;
  /** Settings given in a deprecated form, one sentence each (the server logs them at start). */
  readonly deprecations: readonly string[];
}

/** Every setting's environment name and default (as text, parsed like user input). */
export const DEFAULTS: Readonly<Record<string, string>> = Object.freeze({
  TESSERA_PORT: '4000',
  TESSERA_HOST: '127.0.0.1',
  TESSERA_DATABASE_URL: '',
  TESSERA_REDIS_URL: '',
  TESSERA_ISSUER: '',
  TESSERA_AUDIENCE: '',
  TESSERA_CLIENT_ID: 'tessera',
  TESSERA_SIGNING_ALG: 'EdDSA',
  TESSERA_SIGNING_THREAD: 'auto',
  TESSERA_ACCESS_TTL: '',
  TESSERA_REFRESH_IDLE_TTL: '14d',
  TESSERA_REFRESH_ABSOLUTE_TTL: '30d',
  TESSERA_REUSE_GRACE: '10s',
  TESSERA_DATA_DIR: './.tessera',
  TESSERA_SECRET: '',
  TESSERA_COOKIE_SECURE: 'true',
  TESSERA_ALLOWED_ORIGINS: '',
  TESSERA_CLOCK_LEEWAY: '2s',
  TESSERA_RATE_LIMIT: 'on',
  TESSERA_SERVICE_TOKEN: '',
  TESSERA_POLICY: 'rotating-refresh',
  TESSERA_SOFT_TTL: '',
  TESSERA_MAX_LOGIN_AGE: '0',
  TESSERA_END_SESSIONS_ON_PASSWORD_CHANGE: 'true',
  TESSERA_MAX_SESSIONS_PER_USER: '0',
  TESSERA_TRUST_PROXY: '0',
  TESSERA_ALLOWED_HOSTS: '',
  TESSERA_REQUEST_TIMEOUT: '30s',
  TESSERA_HEADERS_TIMEOUT: '10s',
  TESSERA_KEEP_ALIVE_TIMEOUT: '5s',
  TESSERA_FEED_STREAMS_PER_CALLER: '16',
  TESSERA_FEED_STREAMS_TOTAL: '1000',
  TESSERA_LOG_LEVEL: 'info',
  TESSERA_WEBHOOK_URL: '',
  TESSERA_WEBHOOK_SECRET: '',
  TESSERA_WEBHOOK_TIMEOUT: '10s',
  TESSERA_RESET_TOKEN_TTL: '30m',
  TESSERA_VERIFICATION_TOKEN_TTL: '24h',
  TESSERA_MAGIC_LINK_TTL: '15m',
  TESSERA_EMAIL_CHANGE_TOKEN_TTL: '24h',
});

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
    if (!(key in DEFAULTS)) throw new ConfigError(key, `unknown setting in ${path}.`);
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new ConfigError(key, 'must be a string, number or boolean.');
    }
    out[key] = String(value);
  }
  return out;
}

function duration(name: string, text: string, minSeconds: number, maxSeconds: number): number {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined) {
    throw new ConfigError(
      name,
      `"${text}" is not a duration; use a number of seconds or a suffix s, m, h, d (e.g. 10m).`,
    );
  }
  if (seconds < minSeconds || seconds > maxSeconds) {
    throw new ConfigError(name, `${seconds}s is out of range (${minSeconds}s to ${maxSeconds}s).`);
  }
  return seconds;
}

function bool(name: string, text: string, truthy: string[], falsy: string[]): boolean {
  const value = text.trim().toLowerCase();
  if (truthy.includes(value)) return true;
  if (falsy.includes(value)) return false;
  throw new ConfigError(name, `"${text}" must be one of ${[...truthy, ...falsy].join(', ')}.`);
}

function httpUrl(name: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(name, `"${text}" is not a URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(name, `"${text}" must be an http or https URL.`);
  }
  if (url.search || url.hash || url.username || url.password) {
    throw new ConfigError(name, `"${text}" must not have a query, fragment or credentials.`);
  }
  return url;
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Reads, validates and completes the configuration. Fills defaults from {@link DEFAULTS}; throws
 * {@link ConfigError} naming the first bad setting. The result is frozen.
 */
export function resolveConfig(sources: ConfigSources = {}): TesseraConfig {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const fileName = sources.configFile ?? env.TESSERA_CONFIG;
  const fromFile = fileName ? readConfigFile(resolve(cwd, fileName)) : {};
  const raw = (name: string): string => env[name] ?? fromFile[name] ?? DEFAULTS[name] ?? '';

  const port = Number(raw('TESSERA_PORT'));
  if (!/^\d{1,5}$/.test(raw('TESSERA_PORT')) || port > 65_535) {
    throw new ConfigError('TESSERA_PORT', `"${raw('TESSERA_PORT')}" must be a port number from 0 to 65535.`);
  }
  const host = raw('TESSERA_HOST').trim();
  if (!host || /[\s/]/.test(host))
    throw new ConfigError('TESSERA_HOST', `"${host}" is not a host name or address.`);

  const dataDir = resolve(cwd, raw('TESSERA_DATA_DIR'));
  const databaseUrl = raw('TESSERA_DATABASE_URL') || `sqlite:${resolve(dataDir, 'tessera.db')}`;
  if (databaseUrl.startsWith('sqlite:')) {
    const file = databaseUrl.slice('sqlite:'.length);
    if (!file) throw new ConfigError('TESSERA_DATABASE_URL', 'a sqlite: URL needs a file path.');
  } else if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('TESSERA_DATABASE_URL', 'must start with sqlite: or postgres://.');
  }
  const redisUrl = raw('TESSERA_REDIS_URL') || null;
  if (redisUrl && !/^rediss?:\/\//.test(redisUrl)) {
    throw new ConfigError('TESSERA_REDIS_URL', 'must start with redis:// or rediss://.');
  }

  const urlHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const issuerText =
    raw('TESSERA_ISSUER') || `http://${urlHost === '0.0.0.0' ? '127.0.0.1' : urlHost}:${port}`;
  const issuerUrl = httpUrl('TESSERA_ISSUER', issuerText);
  const issuer = issuerText.replace(/\/+$/, '');
  const audience = raw('TESSERA_AUDIENCE') || issuer;

  const signingAlg = raw('TESSERA_SIGNING_ALG') as SigningAlg;
  if (!SIGNING_ALGS.includes(signingAlg)) {
    throw new ConfigError(
      'TESSERA_SIGNING_ALG',
      `"${signingAlg}" must be one of ${SIGNING_ALGS.join(', ')}.`,
    );
  }

  const policy = raw('TESSERA_POLICY') as PolicyName;
  if (!POLICIES.includes(policy)) {
    throw new ConfigError('TESSERA_POLICY', `"${policy}" must be one of ${POLICIES.join(', ')}.`);
  }
  // Each policy has its own default token life (10 minutes for rotating-refresh, 7 days for long-lived-token).
  const accessTtlSeconds = raw('TESSERA_ACCESS_TTL')
    ? duration(
        'TESSERA_ACCESS_TTL',
        raw('TESSERA_ACCESS_TTL'),
        1,
        policy === 'long-lived-token' ? 90 * 86_400 : 86_400,
      )
    : POLICY_DEFAULT_ACCESS_TTL_SECONDS[policy];
  const softTtlSeconds = raw('TESSERA_SOFT_TTL')
    ? duration('TESSERA_SOFT_TTL', raw('TESSERA_SOFT_TTL'), 1, accessTtlSeconds)
    : Math.max(1, Math.floor(accessTtlSeconds / 6));
  if (softTtlSeconds >= accessTtlSeconds && policy === 'soft-expiry') {
    throw new ConfigError('TESSERA_SOFT_TTL', 'must be shorter than TESSERA_ACCESS_TTL.');
  }
  const maxLoginAgeSeconds = duration('TESSERA_MAX_LOGIN_AGE', raw('TESSERA_MAX_LOGIN_AGE'), 0, 400 * 86_400);
  const endSessionsOnPasswordChange = bool(
    'TESSERA_END_SESSIONS_ON_PASSWORD_CHANGE',
    raw('TESSERA_END_SESSIONS_ON_PASSWORD_CHANGE'),
    ['true', '1', 'yes', 'on'],
    ['false', '0', 'no', 'off'],
  );
  const refreshIdleTtlSeconds = duration(
    'TESSERA_REFRESH_IDLE_TTL',
    raw('TESSERA_REFRESH_IDLE_TTL'),
    1,
    400 * 86_400,
  );
  const refreshAbsoluteTtlSeconds = duration(
    'TESSERA_REFRESH_ABSOLUTE_TTL',
    raw('TESSERA_REFRESH_ABSOLUTE_TTL'),
    1,
    400 * 86_400,
  );
  if (refreshIdleTtlSeconds > refreshAbsoluteTtlSeconds) {
    throw new ConfigError(
      'TESSERA_REFRESH_IDLE_TTL',
      'must not be longer than TESSERA_REFRESH_ABSOLUTE_TTL.',
    );
  }
  const reuseGraceSeconds = duration('TESSERA_REUSE_GRACE', raw('TESSERA_REUSE_GRACE'), 0, 300);
  const clockLeewaySeconds = duration('TESSERA_CLOCK_LEEWAY', raw('TESSERA_CLOCK_LEEWAY'), 0, 60);

  const secret = raw('TESSERA_SECRET') || null;
  if (secret !== null && decodeSecret(secret) === null) {
    throw new ConfigError('TESSERA_SECRET', 'must be at least 32 bytes, base64url-encoded (43+ characters).');
  }

  const cookieSecure = bool(
    'TESSERA_COOKIE_SECURE',
    raw('TESSERA_COOKIE_SECURE'),
    ['true', '1', 'yes', 'on'],
    ['false', '0', 'no', 'off'],
  );

  const originsText = raw('TESSERA_ALLOWED_ORIGINS');
  let allowedOrigins: string[];
  if (originsText.trim()) {
    allowedOrigins = originsText.split(',').map((text) => {
      const trimmed = text.trim();
      const url = httpUrl('TESSERA_ALLOWED_ORIGINS', trimmed);
      if (url.origin !== trimmed.replace(/\/$/, '')) {
        throw new ConfigError(
          'TESSERA_ALLOWED_ORIGINS',
          `"${trimmed}" must be an origin (scheme://host[:port]) only.`,
        );
      }
      return url.origin;
    });
  } else {
    allowedOrigins = [issuerUrl.origin];
    // A local issuer is reached as both localhost and 127.0.0.1: allow both spellings.
    if (LOOPBACK_NAMES.has(issuerUrl.hostname)) {
      for (const name of ['127.0.0.1', 'localhost']) {
        const alias = new URL(issuerUrl.origin);
        alias.hostname = name;
        if (!allowedOrigins.includes(alias.origin)) allowedOrigins.push(alias.origin);
      }
    }
  }

  const rateLimit = bool(
    'TESSERA_RATE_LIMIT',
    raw('TESSERA_RATE_LIMIT'),
    ['on', 'true', '1'],
    ['off', 'false', '0'],
  );
  const serviceToken = raw('TESSERA_SERVICE_TOKEN') || null;
  if (serviceToken !== null && serviceToken.length < 32) {
    throw new ConfigError('TESSERA_SERVICE_TOKEN', 'must be at least 32 characters.');
  }
  const capText = raw('TESSERA_MAX_SESSIONS_PER_USER');
  if (!/^\d{1,6}$/.test(capText)) {
    throw new ConfigError(
      'TESSERA_MAX_SESSIONS_PER_USER',
      `"${capText}" must be a whole number (0 = no cap).`,
    );
  }
  const deprecations: string[] = [];
  const trustText = raw('TESSERA_TRUST_PROXY').trim().toLowerCase();
  let trustProxy: TrustProxy;
  try {
    trustProxy = parseTrustProxy(trustText);
  } catch (error) {
    throw new ConfigError(
      'TESSERA_TRUST_PROXY',
      `${(error as Error).message} Use a hop count (1, 2, …) or comma-separated proxy addresses and CIDRs.`,
    );
  }
  if (trustText === 'true' || trustText === 'false') {
    deprecations.push(
      `TESSERA_TRUST_PROXY=${trustText} is deprecated: use ${trustText === 'true' ? '1 (one proxy hop)' : '0'}, a hop count, or the proxies' CIDRs.`,
    );
  }
  if (trustProxy !== null && serviceToken === null) {
    throw new ConfigError(
      'TESSERA_TRUST_PROXY',
      'needs TESSERA_SERVICE_TOKEN: with proxies trusted, loopback-only service routes would trust the address the proxies report.',
    );
  }
  const hostsText = raw('TESSERA_ALLOWED_HOSTS').trim();
  let allowedHosts: string[] | null = null;
  if (hostsText) {
    try {
      allowedHosts = parseAllowedHosts(hostsText.split(','));
    } catch (error) {
      throw new ConfigError('TESSERA_ALLOWED_HOSTS', (error as Error).message);
    }
  }
  const requestTimeoutSeconds = duration('TESSERA_REQUEST_TIMEOUT', raw('TESSERA_REQUEST_TIMEOUT'), 0, 3600);
  const headersTimeoutSeconds = duration('TESSERA_HEADERS_TIMEOUT', raw('TESSERA_HEADERS_TIMEOUT'), 1, 600);
  if (requestTimeoutSeconds !== 0 && headersTimeoutSeconds > requestTimeoutSeconds) {
    throw new ConfigError('TESSERA_HEADERS_TIMEOUT', 'must not be longer than TESSERA_REQUEST_TIMEOUT.');
  }
  const keepAliveTimeoutSeconds = duration(
    'TESSERA_KEEP_ALIVE_TIMEOUT',
    raw('TESSERA_KEEP_ALIVE_TIMEOUT'),
    // Node reads 0 as "no timeout": idle connections would stay forever.
    1,
    600,
  );
  const count = (name: string, min: number, max: number): number => {
    const text = raw(name).trim();
    const value = Number(text);
    if (!/^\d{1,7}$/.test(text) || value < min || value > max) {
      throw new ConfigError(name, `"${text}" must be a whole number from ${min} to ${max}.`);
    }
    return value;
  };
  const feedStreamsPerCaller = count('TESSERA_FEED_STREAMS_PER_CALLER', 1, 100_000);
  const feedStreamsTotal = count('TESSERA_FEED_STREAMS_TOTAL', 1, 1_000_000);
  const threadText = raw('TESSERA_SIGNING_THREAD').trim().toLowerCase();
  if (!['auto', 'on', 'off'].includes(threadText)) {
    throw new ConfigError('TESSERA_SIGNING_THREAD', `"${threadText}" must be auto, on or off.`);
  }
  const signingThread = threadText === 'auto' ? null : threadText === 'on';
  const logLevel = raw('TESSERA_LOG_LEVEL') as TesseraConfig['logLevel'];
  if (!['silent', 'error', 'warn', 'info', 'debug'].includes(logLevel)) {
    throw new ConfigError('TESSERA_LOG_LEVEL', `"${logLevel}" must be silent, error, warn, info or debug.`);
  }
  const webhooks = webhookSettings(raw);
  const clientId = raw('TESSERA_CLIENT_ID');
  if (!/^[\x21-\x7e]{1,128}$/.test(clientId)) {
    throw new ConfigError('TESSERA_CLIENT_ID', 'must be 1 to 128 printable ASCII characters.');
  }

  return Object.freeze({
    port,
    host,
    databaseUrl,
    redisUrl,
    issuer,
    audience,
    clientId,
    signingAlg,
    signingThread,
    accessTtlSeconds,
    refreshIdleTtlSeconds,
    refreshAbsoluteTtlSeconds,
    reuseGraceSeconds,
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(dataDir),
    secret,
    cookieSecure,
    allowedOrigins: Object.freeze(allowedOrigins),
    clockLeewaySeconds,
    rateLimit,
    serviceToken,
    policy,
    softTtlSeconds,
    maxLoginAgeSeconds,
    endSessionsOnPasswordChange,
    maxSessionsPerUser: Number(capText),
    trustProxy,
    allowedHosts: allowedHosts === null ? null : Object.freeze(allowedHosts),
    requestTimeoutSeconds,
    headersTimeoutSeconds,
    keepAliveTimeoutSeconds,
    feedStreamsPerCaller,
    feedStreamsTotal,
    logLevel,
    ...webhooks,
    deprecations: Object.freeze(deprecations),
  });
}

/**
 * The webhook and one-time-token settings: TESSERA_WEBHOOK_URL (http or https, no credentials or
 * fragment) and TESSERA_WEBHOOK_SECRET (`whsec_` + base64 of 24 to 64 bytes) go together; the timeout is
 * 1 s to 2 min; token lifetimes 1 min to 7 days. A bad secret is reported without its value.
 */
function webhookSettings(
  raw: (name: string) => string,
): Pick<TesseraConfig, 'webhookUrl' | 'webhookSecret' | 'webhookTimeoutSeconds' | 'oneTimeTokenTtlSeconds'> {
  const urlText = raw('TESSERA_WEBHOOK_URL').trim();
  const secret = raw('TESSERA_WEBHOOK_SECRET').trim();
  if (urlText && !secret) {
    throw new ConfigError(
      'TESSERA_WEBHOOK_SECRET',
      'is required with TESSERA_WEBHOOK_URL (whsec_ + base64).',
    );
  }
  if (secret && !urlText)
    throw new ConfigError('TESSERA_WEBHOOK_URL', 'is required with TESSERA_WEBHOOK_SECRET.');
  if (urlText) {
    const url = httpUrl('TESSERA_WEBHOOK_URL', urlText.replace(/\?.*$/, ''));
    if (url.username || url.password) {
      throw new ConfigError('TESSERA_WEBHOOK_URL', 'must not carry credentials.');
    }
    try {
      parseWebhookSecret(secret);
    } catch {
      throw new ConfigError(
        'TESSERA_WEBHOOK_SECRET',
        'must be "whsec_" followed by the base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32)).',
      );
    }
  }
  return {
    webhookUrl: urlText || null,
    webhookSecret: secret || null,
    webhookTimeoutSeconds: duration('TESSERA_WEBHOOK_TIMEOUT', raw('TESSERA_WEBHOOK_TIMEOUT'), 1, 120),
    oneTimeTokenTtlSeconds: Object.freeze({
      password_reset: duration('TESSERA_RESET_TOKEN_TTL', raw('TESSERA_RESET_TOKEN_TTL'), 60, 7 * 86_400),
      email_verification: duration(
        'TESSERA_VERIFICATION_TOKEN_TTL',
        raw('TESSERA_VERIFICATION_TOKEN_TTL'),
        60,
        7 * 86_400,
      ),
      magic_link: duration('TESSERA_MAGIC_LINK_TTL', raw('TESSERA_MAGIC_LINK_TTL'), 60, 7 * 86_400),
      email_change: duration(
        'TESSERA_EMAIL_CHANGE_TOKEN_TTL',
        raw('TESSERA_EMAIL_CHANGE_TOKEN_TTL'),
        60,
        7 * 86_400,
      ),
    }),
  };
}

/** Decodes a secret given as base64url (or base64); `null` when it is under 32 bytes or not base64. */
export function decodeSecret(text: string): Uint8Array | null {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9_\-+/]+=*$/.test(trimmed)) return null;
  const bytes = Buffer.from(trimmed.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), 'base64url');
  return bytes.length >= 32 ? new Uint8Array(bytes) : null;
}
