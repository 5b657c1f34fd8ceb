import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, resolveConfig } from './config.ts';

const cwd = '/srv/app';

describe('resolveConfig', () => {
  it('fills every default of the design', () => {
    const config = resolveConfig({ env: {}, cwd });
    assert.equal(config.port, 4000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.databaseUrl, 'sqlite:/srv/app/.tessera/tessera.db');
    assert.equal(config.redisUrl, null);
    assert.equal(config.issuer, 'http://127.0.0.1:4000');
    assert.equal(config.audience, 'http://127.0.0.1:4000');
    assert.equal(config.signingAlg, 'EdDSA');
    assert.equal(config.accessTtlSeconds, 600);
    assert.equal(config.refreshIdleTtlSeconds, 14 * 86_400);
    assert.equal(config.refreshAbsoluteTtlSeconds, 30 * 86_400);
    assert.equal(config.reuseGraceSeconds, 10);
    assert.equal(config.dataDir, '/srv/app/.tessera');
    assert.equal(config.secret, null);
    assert.equal(config.cookieSecure, true);
    assert.deepEqual(config.allowedOrigins, ['http://127.0.0.1:4000', 'http://localhost:4000']);
    assert.equal(config.clockLeewaySeconds, 2);
    assert.equal(config.rateLimit, true);
    assert.equal(config.serviceToken, null);
    assert.equal(config.policy, 'rotating-refresh');
    assert.equal(config.signingThread, null);
    assert.equal(config.trustProxy, null);
    assert.equal(config.allowedHosts, null);
    assert.equal(config.requestTimeoutSeconds, 30);
    assert.equal(config.headersTimeoutSeconds, 10);
    assert.equal(config.keepAliveTimeoutSeconds, 5);
    assert.equal(config.feedStreamsPerCaller, 16);
    assert.equal(config.feedStreamsTotal, 1000);
    assert.equal(config.reauthMaxAgeSeconds, 600);
    assert.deepEqual(config.deprecations, []);
    assert.ok(Object.isFrozen(config));
    assert.equal(resolveConfig({ env: { TESSERA_REAUTH_MAX_AGE: '2m' }, cwd }).reauthMaxAgeSeconds, 120);
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
    assert.equal(config.signingThread, false);
    assert.equal(config.issuer, 'https://auth.example.com');
    assert.equal(config.audience, 'api');
    assert.equal(config.accessTtlSeconds, 300);
    assert.equal(config.refreshIdleTtlSeconds, 43_200);
    assert.equal(config.refreshAbsoluteTtlSeconds, 604_800);
    assert.equal(config.reuseGraceSeconds, 30);
    assert.equal(config.cookieSecure, false);
    assert.deepEqual(config.allowedOrigins, ['https://app.example.com', 'https://admin.example.com']);
    assert.equal(config.clockLeewaySeconds, 60);
    assert.equal(config.rateLimit, false);
  });

  it('refuses bad settings with a message naming the setting', () => {
    const bad: Array<[Record<string, string>, string, RegExp]> = [
      [{ TESSERA_PORT: '70000' }, 'TESSERA_PORT', /port number/],
      [{ TESSERA_PORT: 'abc' }, 'TESSERA_PORT', /port number/],
      [{ TESSERA_ACCESS_TTL: '10 minutes' }, 'TESSERA_ACCESS_TTL', /not a duration/],
      [{ TESSERA_ACCESS_TTL: '-5s' }, 'TESSERA_ACCESS_TTL', /not a duration/],
      [{ TESSERA_ACCESS_TTL: '0' }, 'TESSERA_ACCESS_TTL', /out of range/],
      [{ TESSERA_CLOCK_LEEWAY: '61s' }, 'TESSERA_CLOCK_LEEWAY', /out of range/],
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
        /out of range/,
      ],
      [{ TESSERA_MAX_LOGIN_AGE: 'forever' }, 'TESSERA_MAX_LOGIN_AGE', /not a duration/],
      [{ TESSERA_REAUTH_MAX_AGE: 'soon' }, 'TESSERA_REAUTH_MAX_AGE', /not a duration/],
      [{ TESSERA_REAUTH_MAX_AGE: '0' }, 'TESSERA_REAUTH_MAX_AGE', /out of range/],
      [{ TESSERA_REAUTH_MAX_AGE: '401d' }, 'TESSERA_REAUTH_MAX_AGE', /out of range/],
      [{ TESSERA_POLICY: 'whatever' }, 'TESSERA_POLICY', /must be one of/],
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
    assert.equal(config.accessTtlSeconds, 120);
    assert.equal(config.port, 6000);
    writeFileSync(file, JSON.stringify({ TESSERA_NOPE: 1 }));
    assert.throws(() => resolveConfig({ env: {}, configFile: file, cwd }), /TESSERA_NOPE: unknown setting/);
  });
});
