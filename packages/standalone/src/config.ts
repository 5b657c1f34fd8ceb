import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  createMemoryStore,
  isTesseraError,
  POLICY_NAMES,
  type PolicyName,
  resolveEngineOptions,
} from '@tessera/core';
import { closest } from './closest.ts';
import { parseSetting } from './config-parsers.ts';
import {
  type Derived,
  type EngineConfig,
  SETTING_NAMES,
  SETTING_OF_OPTION,
  SETTINGS,
  type ServerSettings,
  type TesseraConfig,
} from './config-table.ts';

export { decodeSecret } from './config-parsers.ts';
export type { EngineConfig, TesseraConfig } from './config-table.ts';
export { DEFAULTS, SETTING_NAMES } from './config-table.ts';

/** Session policies (TESSERA_POLICY). */
export const POLICIES: readonly PolicyName[] = POLICY_NAMES;

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

/**
 * Has the engine judge `options` (ranges, relations, names); its refusal becomes a {@link ConfigError}
 * naming the setting, its message speaking of settings rather than options.
 */
function checkEngineOptions(options: EngineConfig): void {
  try {
    // Stand-ins for what the server opens later (the store, the secret), so the engine judges every
    // other option before anything is opened, created or listened on.
    resolveEngineOptions({ ...options, store: createMemoryStore(), secret: new Uint8Array(32) });
  } catch (error) {
    if (!isTesseraError(error) || error.code !== 'invalid_configuration') throw error;
    const option = error.field ?? 'options';
    let message = error.message.startsWith(`${option} `)
      ? error.message.slice(option.length + 1)
      : error.message;
    // A nested option (`trustedIssuers[1].audience`) is reported on its setting, naming the entry; an
    // entry with a setting of its own (`oneTimeTokenTtlSeconds.magic_link`) on that setting.
    const root = SETTING_OF_OPTION.has(option) ? option : (option.split(/[[.]/)[0] ?? option);
    if (root !== option && SETTING_OF_OPTION.has(root)) {
      message = `${option.slice(root.length).replace(/^\[(\d+)\]\.?/, 'entry $1 ')}${message}`;
    }
    for (const [other, setting] of SETTING_OF_OPTION) {
      message = message.replace(new RegExp(`\\b${other}\\b`, 'g'), setting);
    }
    throw new ConfigError(SETTING_OF_OPTION.get(root) ?? option, message);
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
      if (value === undefined) continue;
      if (setting.entry === undefined) engineOptions[setting.key] = value;
      else {
        const entries = (engineOptions[setting.key] ?? {}) as Record<string, unknown>;
        engineOptions[setting.key] = { ...entries, [setting.entry]: value };
      }
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
  if (settings.webhookUrl !== undefined && settings.webhookSecret === undefined) {
    throw new ConfigError(
      'TESSERA_WEBHOOK_SECRET',
      'is required with TESSERA_WEBHOOK_URL (whsec_ + base64).',
    );
  }
  if (settings.webhookSecret !== undefined && settings.webhookUrl === undefined) {
    throw new ConfigError('TESSERA_WEBHOOK_URL', 'is required with TESSERA_WEBHOOK_SECRET.');
  }
  if (
    settings.requestTimeoutSeconds !== 0 &&
    settings.headersTimeoutSeconds > settings.requestTimeoutSeconds
  ) {
    throw new ConfigError('TESSERA_HEADERS_TIMEOUT', 'must not be longer than TESSERA_REQUEST_TIMEOUT.');
  }

  // Every setting with a default arrives as parsed; those without one are derived or null here.
  return Object.freeze({
    ...settings,
    engine: engineConfig,
    dataDir,
    databaseUrl: settings.databaseUrl ?? `sqlite:${resolve(dataDir, 'tessera.db')}`,
    redisUrl: settings.redisUrl ?? null,
    secret: settings.secret ?? null,
    allowedOrigins: Object.freeze(allowedOrigins),
    serviceToken,
    allowedHosts: settings.allowedHosts ? Object.freeze(settings.allowedHosts) : null,
    webhookUrl: settings.webhookUrl ?? null,
    webhookSecret: settings.webhookSecret ?? null,
    deprecations: Object.freeze(deprecations),
    warnings: Object.freeze(unknownVariables(env)),
  });
}

// Variables of the test suites and tools around the server, not settings of its own.
const NOT_SETTINGS = new Set(['TESSERA_CONFIG']);

/**
 * One sentence per `TESSERA_*` environment variable that is no setting: a typo such as
 * `TESSERA_ACESS_TTL` would otherwise leave the default in force without a word (the config file
 * refuses unknown keys outright; the environment is shared with other programs, so this only warns).
 */
function unknownVariables(env: Readonly<Record<string, string | undefined>>): string[] {
  const warnings: string[] = [];
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith('TESSERA_') || name in SETTINGS || NOT_SETTINGS.has(name)) continue;
    const near = closest(name, SETTING_NAMES);
    warnings.push(`${name} is not a Tessera setting and is ignored${near ? `; did you mean ${near}?` : ''}`);
  }
  return warnings;
}
