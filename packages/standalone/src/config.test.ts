import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createEngine, createMemoryStore, ENGINE_DEFAULTS, resolveEngineOptions } from '@tessera/core';
import { ConfigError, DEFAULTS, resolveConfig } from './config.ts';

const cwd = '/srv/app';
const secret = new Uint8Array(32).fill(1);

/** The engine's view of a config's options: what `createEngine` will run with. */
function engineView(config: ReturnType<typeof resolveConfig>) {
  return resolveEngineOptions({ ...config.engine, store: createMemoryStore(), secret });
}

describe('resolveConfig', () => {
  it('fills every default of the design: the server settings here, the engine options in the engine', () => {
    const config = resolveConfig({ env: {}, cwd });
    // Only what the environment says (and the issuer the server derives) reaches the engine.
    assert.deepEqual(config.engine, { issuer: 'http://127.0.0.1:4000' });
    const engine = engineView(config);
    assert.equal(engine.issuer, 'http://127.0.0.1:4000');
    assert.equal(engine.audience, 'http://127.0.0.1:4000');
    assert.equal(engine.signingAlg, 'EdDSA');
    assert.equal(engine.accessTtlSeconds, 600);
    assert.equal(engine.refreshIdleTtlSeconds, 14 * 86_400);
    assert.equal(engine.refreshAbsoluteTtlSeconds, 30 * 86_400);
    assert.equal(engine.reuseGraceSeconds, 10);
    assert.equal(engine.clockLeewaySeconds, 2);
    assert.deepEqual(engine.rateLimits, ENGINE_DEFAULTS.rateLimits);
    assert.equal(engine.policy, 'rotating-refresh');
    assert.equal(engine.signOffThread, availableParallelism() > 1);
    assert.equal(config.port, 4000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.databaseUrl, 'sqlite:/srv/app/.tessera/tessera.db');
    assert.equal(config.redisUrl, null);
    assert.equal(config.dataDir, '/srv/app/.tessera');
    assert.equal(config.secret, null);
    assert.equal(config.cookieSecure, true);
    assert.deepEqual(config.allowedOrigins, ['http://127.0.0.1:4000', 'http://localhost:4000']);
    assert.equal(config.serviceToken, null);
    assert.equal(config.trustProxy, null);
    assert.equal(config.allowedHosts, null);
    assert.equal(config.requestTimeoutSeconds, 30);
    assert.equal(config.headersTimeoutSeconds, 10);
    assert.equal(config.keepAliveTimeoutSeconds, 5);
    assert.equal(config.feedStreamsPerCaller, 16);
    assert.equal(config.feedStreamsTotal, 1000);
    assert.equal(config.logLevel, 'info');
    assert.deepEqual(config.deprecations, []);
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.engine));
    // The table holds the server's own defaults only; no engine setting has one here.
    assert.equal(DEFAULTS.TESSERA_ACCESS_TTL, undefined);
    assert.equal(DEFAULTS.TESSERA_PORT, '4000');
  });

  it('reads the HTTP hardening settings and names a bad one', () => {
    const config = resolveConfig({
      cwd,
      env: {
        TESSERA_SERVICE_TOKEN: 's'.repeat(32),
        TESSERA_TRUST_PROXY: '2',
        TESSERA_ALLOWED_HOSTS: 'auth.example.com, Internal:8080',
        TESSERA_REQUEST_TIMEOUT: '1m',
        TESSERA_HEADERS_TIMEOUT: '20s',
        TESSERA_KEEP_ALIVE_TIMEOUT: '1',
        TESSERA_FEED_STREAMS_PER_CALLER: '4',
        TESSERA_FEED_STREAMS_TOTAL: '40',
      },
    });
    assert.deepEqual(config.trustProxy, { hops: 2 });
    assert.deepEqual(config.allowedHosts, ['auth.example.com', 'internal:8080']);
    assert.deepEqual(
      [config.requestTimeoutSeconds, config.headersTimeoutSeconds, config.keepAliveTimeoutSeconds],
      [60, 20, 1],
    );
    assert.deepEqual([config.feedStreamsPerCaller, config.feedStreamsTotal], [4, 40]);
    for (const [name, value] of [
      ['TESSERA_ALLOWED_HOSTS', 'http://x'],
      ['TESSERA_HEADERS_TIMEOUT', '2m'],
      ['TESSERA_KEEP_ALIVE_TIMEOUT', '0'],
      ['TESSERA_FEED_STREAMS_TOTAL', '0'],
      ['TESSERA_TRUST_PROXY', 'proxy.local'],
    ] as const) {
      assert.throws(
        () => resolveConfig({ cwd, env: { TESSERA_SERVICE_TOKEN: 's'.repeat(32), [name]: value } }),
        (error: unknown) => error instanceof ConfigError && error.setting === name,
        `${name}=${value}`,
      );
    }
  });

  it('reads every variable, with durations in s, m, h, d or plain seconds', () => {
    const config = resolveConfig({
      cwd,
      env: {
        TESSERA_PORT: '8080',
        TESSERA_HOST: '0.0.0.0',
        TESSERA_DATABASE_URL: 'postgres://db/tessera',
        TESSERA_REDIS_URL: 'redis://127.0.0.1:6379',
        TESSERA_ISSUER: 'https://auth.example.com/',
        TESSERA_AUDIENCE: 'api',
        TESSERA_SIGNING_ALG: 'RS256',
        TESSERA_SIGNING_THREAD: 'off',
        TESSERA_ACCESS_TTL: '5m',
        TESSERA_REFRESH_IDLE_TTL: '12h',
        TESSERA_REFRESH_ABSOLUTE_TTL: '7d',
        TESSERA_REUSE_GRACE: '30',
        TESSERA_DATA_DIR: '/var/lib/tessera',
        TESSERA_SECRET: 'a'.repeat(43),
        TESSERA_COOKIE_SECURE: 'false',
        TESSERA_ALLOWED_ORIGINS: 'https://app.example.com, https://admin.example.com',
        TESSERA_CLOCK_LEEWAY: '60s',
        TESSERA_RATE_LIMIT: 'off',
        TESSERA_SERVICE_TOKEN: 's'.repeat(40),
        TESSERA_POLICY: 'rotating-refresh',
      },
    });
    assert.equal(config.port, 8080);
    assert.equal(config.databaseUrl, 'postgres://db/tessera');
    assert.equal(config.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(config.dataDir, '/var/lib/tessera');
    assert.equal(config.cookieSecure, false);
    assert.deepEqual(config.allowedOrigins, ['https://app.example.com', 'https://admin.example.com']);
    assert.deepEqual(config.engine, {
      issuer: 'https://auth.example.com',
      audience: 'api',
      signingAlg: 'RS256',
      signOffThread: false,
      policy: 'rotating-refresh',
      accessTtlSeconds: 300,
      refreshIdleTtlSeconds: 43_200,
      refreshAbsoluteTtlSeconds: 604_800,
      reuseGraceSeconds: 30,
      clockLeewaySeconds: 60,
      rateLimits: false,
    });
  });

  it('hands the engine options the server and the CLI spread into createEngine', async () => {
    const config = resolveConfig({
      cwd,
      env: {
        TESSERA_POLICY: 'long-lived-token',
        TESSERA_ACCESS_TTL: '30d',
        TESSERA_MAX_SESSIONS_PER_USER: '3',
        TESSERA_END_SESSIONS_ON_PASSWORD_CHANGE: 'no',
        TESSERA_MAX_LOGIN_AGE: '60d',
        TESSERA_SIGNING_THREAD: 'off',
      },
    });
    const engine = await createEngine({ ...config.engine, store: createMemoryStore(), secret });
    try {
      assert.equal(engine.settings.policy, 'long-lived-token');
      assert.equal(engine.settings.accessTtlSeconds, 30 * 86_400);
      // No refresh lifetimes set: the engine's defaults stretch to the one token's life (the table
      // used to pass 14 d explicitly, which the engine refuses under this policy).
      assert.equal(engine.settings.refreshIdleTtlSeconds, 30 * 86_400);
      assert.equal(engine.settings.maxSessionsPerUser, 3);
      assert.equal(engine.settings.maxLoginAgeSeconds, 60 * 86_400);
    } finally {
      await engine.close();
    }
  });

  it('treats an empty value as unset: the value from the file, else the default', () => {
    const config = resolveConfig({
      env: { TESSERA_PORT: '', TESSERA_CLIENT_ID: ' ', TESSERA_ACCESS_TTL: '' },
      cwd,
    });
    assert.equal(config.port, 4000);
    assert.deepEqual(config.engine, { issuer: 'http://127.0.0.1:4000' });
  });

  it('names the setting when the engine refuses a value, and speaks of settings in the message', () => {
    const refused = (env: Record<string, string>): ConfigError => {
      try {
        resolveConfig({ env, cwd });
      } catch (error) {
        assert.ok(error instanceof ConfigError, String(error));
        return error;
      }
      assert.fail(`accepted ${JSON.stringify(env)}`);
    };
    const idle = refused({ TESSERA_REFRESH_IDLE_TTL: '2d', TESSERA_REFRESH_ABSOLUTE_TTL: '1d' });
    assert.equal(idle.setting, 'TESSERA_REFRESH_IDLE_TTL');
    assert.equal(
      idle.message,
      'TESSERA_REFRESH_IDLE_TTL: must not be longer than TESSERA_REFRESH_ABSOLUTE_TTL (86400); got 172800.',
    );
    const soft = refused({
      TESSERA_POLICY: 'soft-expiry',
      TESSERA_ACCESS_TTL: '10m',
      TESSERA_SOFT_TTL: '10m',
    });
    assert.equal(soft.setting, 'TESSERA_SOFT_TTL');
    assert.match(soft.message, /shorter than TESSERA_ACCESS_TTL \(600\)/);
    assert.doesNotMatch(soft.message, /TtlSeconds/);
    const client = refused({ TESSERA_CLIENT_ID: 'a b' });
    assert.equal(client.setting, 'TESSERA_CLIENT_ID');
    const lived = refused({
      TESSERA_POLICY: 'long-lived-token',
      TESSERA_ACCESS_TTL: '7d',
      TESSERA_REFRESH_IDLE_TTL: '1d',
    });
    assert.equal(lived.setting, 'TESSERA_REFRESH_IDLE_TTL');
    assert.match(lived.message, /at least TESSERA_ACCESS_TTL/);
  });

  it('reads the step-up age and the trusted issuers (DESIGN.md keys) into engine options', () => {
    const config = resolveConfig({
      env: {
        TESSERA_REAUTH_MAX_AGE: '2m',
        TESSERA_TRUSTED_ISSUERS: JSON.stringify([
          {
            issuer: 'https://id.example',
            audience: 'app',
            jwks_uri: 'https://id.example/keys',
            merge_by_email: true,
          },
        ]),
      },
      cwd,
    });
    assert.equal(config.engine.reauthMaxAgeSeconds, 120);
    assert.deepEqual(config.engine.trustedIssuers, [
      {
        issuer: 'https://id.example',
        audience: 'app',
        jwksUri: 'https://id.example/keys',
        mergeByEmail: true,
      },
    ]);
    const engine = engineView(config);
    assert.equal(engine.reauthMaxAgeSeconds, 120);
    assert.equal(engine.trustedIssuers[0]?.jwksUri, 'https://id.example/keys');
    assert.equal(engineView(resolveConfig({ env: {}, cwd })).reauthMaxAgeSeconds, 600);
  });

  it('reads the DPoP settings into engine options, defaults from the engine', () => {
    const config = resolveConfig({
      env: { TESSERA_DPOP: 'required', TESSERA_DPOP_NONCE: 'on', TESSERA_DPOP_PROOF_MAX_AGE: '2m' },
      cwd,
    });
    assert.equal(config.engine.dpop, 'required');
    assert.equal(config.engine.dpopNonce, true);
    assert.equal(config.engine.dpopProofMaxAgeSeconds, 120);
    const engine = engineView(config);
    assert.equal(engine.dpop, 'required');
    const defaults = engineView(resolveConfig({ env: {}, cwd }));
    assert.deepEqual(
      [defaults.dpop, defaults.dpopNonce, defaults.dpopProofMaxAgeSeconds],
      ['optional', false, 60],
    );
  });

  it('refuses bad settings with a message naming the setting', () => {
    const bad: Array<[Record<string, string>, string, RegExp]> = [
      [{ TESSERA_PORT: '70000' }, 'TESSERA_PORT', /port number/],
      [{ TESSERA_PORT: 'abc' }, 'TESSERA_PORT', /port number/],
      [{ TESSERA_ACCESS_TTL: '10 minutes' }, 'TESSERA_ACCESS_TTL', /not a duration/],
      [{ TESSERA_ACCESS_TTL: '-5s' }, 'TESSERA_ACCESS_TTL', /not a duration/],
      // Ranges of engine options are the engine's; its messages give them in seconds.
      [{ TESSERA_ACCESS_TTL: '0' }, 'TESSERA_ACCESS_TTL', /from 1 to 86400 seconds/],
      [{ TESSERA_CLOCK_LEEWAY: '61s' }, 'TESSERA_CLOCK_LEEWAY', /from 0 to 60 seconds/],
      [{ TESSERA_REUSE_GRACE: '6m' }, 'TESSERA_REUSE_GRACE', /from 0 to 300 seconds/],
      [{ TESSERA_MAX_SESSIONS_PER_USER: 'many' }, 'TESSERA_MAX_SESSIONS_PER_USER', /whole number/],
      [{ TESSERA_HOST: 'a b' }, 'TESSERA_HOST', /not a host/],
      [{ TESSERA_LOG_LEVEL: 'loud' }, 'TESSERA_LOG_LEVEL', /silent, error, warn, info or debug/],
      [
        { TESSERA_END_SESSIONS_ON_PASSWORD_CHANGE: 'later' },
        'TESSERA_END_SESSIONS_ON_PASSWORD_CHANGE',
        /must be one of/,
      ],
      [{ TESSERA_REFRESH_IDLE_TTL: '31d' }, 'TESSERA_REFRESH_IDLE_TTL', /not be longer/],
      [{ TESSERA_SIGNING_ALG: 'HS256' }, 'TESSERA_SIGNING_ALG', /EdDSA, ES256, RS256/],
      [{ TESSERA_SIGNING_ALG: 'none' }, 'TESSERA_SIGNING_ALG', /one of/],
      [{ TESSERA_SIGNING_THREAD: 'yes' }, 'TESSERA_SIGNING_THREAD', /auto, on or off/],
      [{ TESSERA_ISSUER: 'ftp://x' }, 'TESSERA_ISSUER', /http or https/],
      [{ TESSERA_ISSUER: 'https://x/?a=1' }, 'TESSERA_ISSUER', /query/],
      [{ TESSERA_DATABASE_URL: 'mysql://x' }, 'TESSERA_DATABASE_URL', /sqlite: or postgres/],
      [{ TESSERA_REDIS_URL: 'http://x' }, 'TESSERA_REDIS_URL', /redis:\/\//],
      [{ TESSERA_SECRET: 'short' }, 'TESSERA_SECRET', /32 bytes/],
      [{ TESSERA_COOKIE_SECURE: 'maybe' }, 'TESSERA_COOKIE_SECURE', /must be one of/],
      [{ TESSERA_ALLOWED_ORIGINS: 'https://a.example/path' }, 'TESSERA_ALLOWED_ORIGINS', /origin/],
      [{ TESSERA_ALLOWED_ORIGINS: '*' }, 'TESSERA_ALLOWED_ORIGINS', /not a URL/],
      [{ TESSERA_RATE_LIMIT: 'sometimes' }, 'TESSERA_RATE_LIMIT', /must be one of/],
      [{ TESSERA_SERVICE_TOKEN: 'tiny' }, 'TESSERA_SERVICE_TOKEN', /32 characters/],
      [
        { TESSERA_POLICY: 'soft-expiry', TESSERA_ACCESS_TTL: '1h', TESSERA_SOFT_TTL: '2h' },
        'TESSERA_SOFT_TTL',
        /must be shorter than TESSERA_ACCESS_TTL/,
      ],
      [{ TESSERA_MAX_LOGIN_AGE: 'forever' }, 'TESSERA_MAX_LOGIN_AGE', /not a duration/],
      [{ TESSERA_POLICY: 'whatever' }, 'TESSERA_POLICY', /must be one of/],
      [{ TESSERA_REAUTH_MAX_AGE: 'soon' }, 'TESSERA_REAUTH_MAX_AGE', /not a duration/],
      [{ TESSERA_REAUTH_MAX_AGE: '0' }, 'TESSERA_REAUTH_MAX_AGE', /from 1 to/],
      [{ TESSERA_REAUTH_MAX_AGE: '401d' }, 'TESSERA_REAUTH_MAX_AGE', /from 1 to/],
      [{ TESSERA_DPOP: 'on' }, 'TESSERA_DPOP', /must be one of optional, off, required/],
      [{ TESSERA_DPOP_NONCE: 'sometimes' }, 'TESSERA_DPOP_NONCE', /must be one of/],
      [{ TESSERA_DPOP_PROOF_MAX_AGE: '1h' }, 'TESSERA_DPOP_PROOF_MAX_AGE', /from 5 to 300 seconds/],
      [{ TESSERA_TRUSTED_ISSUERS: '{' }, 'TESSERA_TRUSTED_ISSUERS', /not JSON/],
      [{ TESSERA_TRUSTED_ISSUERS: '{"issuer":"x"}' }, 'TESSERA_TRUSTED_ISSUERS', /array/],
      [
        { TESSERA_TRUSTED_ISSUERS: '[{"issuer":"https://id.example","audience":"a","jwksUri":"x"}]' },
        'TESSERA_TRUSTED_ISSUERS',
        /entry 0: unknown key "jwksUri" \(use issuer, audience, jwks_uri, merge_by_email, algorithms\)/,
      ],
      [
        { TESSERA_TRUSTED_ISSUERS: '[{"issuer":"http://id.example","audience":"app"}]' },
        'TESSERA_TRUSTED_ISSUERS',
        /entry 0 issuer.*https/,
      ],
      [
        { TESSERA_TRUSTED_ISSUERS: '[{"issuer":"https://id.example","audience":""}]' },
        'TESSERA_TRUSTED_ISSUERS',
        /entry 0 audience/,
      ],
    ];
    for (const [env, setting, message] of bad) {
      assert.throws(
        () => resolveConfig({ env, cwd }),
        (error: unknown) =>
          error instanceof ConfigError && error.setting === setting && message.test(error.message),
        JSON.stringify(env),
      );
    }
  });

  it('reads a JSON config file, with the environment taking precedence', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
    const file = join(dir, 'tessera.json');
    writeFileSync(file, JSON.stringify({ TESSERA_ACCESS_TTL: '2m', TESSERA_PORT: 5000 }));
    const config = resolveConfig({ env: { TESSERA_PORT: '6000' }, configFile: file, cwd });
    assert.equal(config.engine.accessTtlSeconds, 120);
    assert.equal(config.port, 6000);
    writeFileSync(file, JSON.stringify({ TESSERA_NOPE: 1 }));
    assert.throws(() => resolveConfig({ env: {}, configFile: file, cwd }), /TESSERA_NOPE: unknown setting/);
  });
});

describe('unknown TESSERA_* variables', () => {
  it('warns about each, with the closest setting, and changes nothing', () => {
    const config = resolveConfig({
      env: { TESSERA_ACESS_TTL: '5m', TESSERA_NOT_A_THING_AT_ALL: '1', TESSERA_CONFIG: '', PATH: '/bin' },
      cwd,
    });
    assert.deepEqual(config.warnings, [
      'TESSERA_ACESS_TTL is not a Tessera setting and is ignored; did you mean TESSERA_ACCESS_TTL?',
      'TESSERA_NOT_A_THING_AT_ALL is not a Tessera setting and is ignored',
    ]);
    assert.equal(config.engine.accessTtlSeconds, undefined, 'the typo sets nothing');
    assert.deepEqual(resolveConfig({ env: { TESSERA_ACCESS_TTL: '5m' }, cwd }).warnings, []);
  });
});
