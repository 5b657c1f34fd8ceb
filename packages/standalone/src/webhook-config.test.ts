import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createMemoryStore, resolveEngineOptions } from '@tessera/core';
import { ConfigError, resolveConfig } from './config.ts';

/** What the engine runs with for a config: its own defaults where the settings say nothing. */
function engineView(config: ReturnType<typeof resolveConfig>) {
  return resolveEngineOptions({ ...config.engine, store: createMemoryStore(), secret: new Uint8Array(32) });
}

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;
const URL = 'https://app.example.com/hooks/tessera?tenant=7';

function refused(env: Record<string, string>, setting: string): ConfigError {
  let caught: unknown;
  try {
    resolveConfig({ env, cwd: '/srv/app' });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ConfigError, `${JSON.stringify(env)} was accepted`);
  assert.equal(caught.setting, setting);
  return caught;
}

describe('webhook and one-time-token settings', () => {
  it('are off by default, with the design’s token lifetimes', () => {
    const config = resolveConfig({ env: {}, cwd: '/srv/app' });
    assert.equal(config.webhookUrl, null);
    assert.equal(config.webhookSecret, null);
    assert.equal(engineView(config).webhookTimeoutSeconds, 10);
    assert.deepEqual(engineView(config).oneTimeTokenTtlSeconds, {
      password_reset: 1800,
      email_verification: 86_400,
      magic_link: 900,
      email_change: 86_400,
    });
  });

  it('take a URL (query kept) with its whsec_ secret, a timeout and lifetimes', () => {
    const config = resolveConfig({
      env: {
        TESSERA_WEBHOOK_URL: URL,
        TESSERA_WEBHOOK_SECRET: SECRET,
        TESSERA_WEBHOOK_TIMEOUT: '3s',
        TESSERA_RESET_TOKEN_TTL: '10m',
        TESSERA_MAGIC_LINK_TTL: '300',
        TESSERA_VERIFICATION_TOKEN_TTL: '2d',
        TESSERA_EMAIL_CHANGE_TOKEN_TTL: '1h',
      },
      cwd: '/srv/app',
    });
    assert.deepEqual(
      [config.webhookUrl, config.webhookSecret, engineView(config).webhookTimeoutSeconds],
      [URL, SECRET, 3],
    );
    assert.deepEqual(engineView(config).oneTimeTokenTtlSeconds, {
      password_reset: 600,
      email_verification: 172_800,
      magic_link: 300,
      email_change: 3600,
    });
  });

  it('refuse one without the other, a bad URL, a bad secret (never echoing it) and out-of-range values', () => {
    refused({ TESSERA_WEBHOOK_URL: URL }, 'TESSERA_WEBHOOK_SECRET');
    refused({ TESSERA_WEBHOOK_SECRET: SECRET }, 'TESSERA_WEBHOOK_URL');
    for (const url of [
      'ftp://example.com/',
      'not a url',
      'https://user:pw@example.com/',
      'https://x.example/#f',
    ]) {
      refused({ TESSERA_WEBHOOK_URL: url, TESSERA_WEBHOOK_SECRET: SECRET }, 'TESSERA_WEBHOOK_URL');
    }
    const short = `whsec_${randomBytes(16).toString('base64')}`;
    for (const secret of [short, SECRET.slice(6), `whsec_${'!'.repeat(44)}`, `${SECRET}x`]) {
      const error = refused(
        { TESSERA_WEBHOOK_URL: URL, TESSERA_WEBHOOK_SECRET: secret },
        'TESSERA_WEBHOOK_SECRET',
      );
      assert.ok(!error.message.includes(secret.slice(6, 30)), 'the secret is not repeated');
    }
    refused({ TESSERA_WEBHOOK_TIMEOUT: '0s' }, 'TESSERA_WEBHOOK_TIMEOUT');
    refused({ TESSERA_WEBHOOK_TIMEOUT: '3m' }, 'TESSERA_WEBHOOK_TIMEOUT');
    refused({ TESSERA_RESET_TOKEN_TTL: '30s' }, 'TESSERA_RESET_TOKEN_TTL');
    refused({ TESSERA_MAGIC_LINK_TTL: '8d' }, 'TESSERA_MAGIC_LINK_TTL');
    refused({ TESSERA_VERIFICATION_TOKEN_TTL: 'soon' }, 'TESSERA_VERIFICATION_TOKEN_TTL');
  });
});
