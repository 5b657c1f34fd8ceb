import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Engine } from '@tessera/core';
import { call, PASSWORD, TEST_ARGON2 } from './server.ts';

/** What a mounted example exposes to the shared contract. */
export type ExampleStart = (
  port: number,
  options: { dbPath: string; issuer: string; argon2: typeof TEST_ARGON2; rateLimits: false },
) => Promise<{ url: string; engine: Engine; close(): Promise<void> }>;

const ORIGIN = 'http://127.0.0.1:3000';

/**
 * The same contract checks for every framework mount: Tessera's routes under `/api`, the app's
 * own routes untouched, cookie path and CSRF rules, limits and errors.
 */
export function mountContract(framework: string, start: ExampleStart, options: { echo: boolean }): void {
  describe(`library mode: ${framework}`, () => {
    let app: Awaited<ReturnType<ExampleStart>>;
    let dir: string;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), `tessera-${framework}-`));
      app = await start(0, {
        dbPath: join(dir, 'app.db'),
        issuer: ORIGIN,
        argon2: TEST_ARGON2,
        rateLimits: false,
      });
    });
    after(async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('serves register, login, refresh, sessions and logout under the prefix', async () => {
      const email = `${framework}@example.com`;
      const reg = await call(app.url, 'POST', '/api/auth/register', { json: { email, password: PASSWORD } });
      assert.equal(reg.status, 201, reg.text);
      const login = await call(app.url, 'POST', '/api/auth/login', { json: { email, password: PASSWORD } });
      assert.equal(login.status, 200);
      const refreshed = await call(app.url, 'POST', '/api/auth/refresh', {
        json: { refresh_token: login.body.refresh_token },
      });
      assert.equal(refreshed.status, 200);
      const sessions = await call(app.url, 'GET', '/api/auth/sessions', {
        token: refreshed.body.access_token,
      });
      assert.equal(sessions.body.sessions.length, 2);
      // The app's own protected route accepts the token, then refuses it after logout.
      const profile = await call(app.url, 'GET', '/api/profile', { token: refreshed.body.access_token });
      assert.equal(profile.status, 200);
      assert.equal(
        profile.body.sub,
        reg.body.access_token
          ? JSON.parse(Buffer.from(reg.body.access_token.split('.')[1], 'base64url').toString()).sub
          : '',
      );
      assert.equal(
        (
          await call(app.url, 'POST', '/api/auth/logout', {
            json: { refresh_token: refreshed.body.refresh_token },
          })
        ).status,
        204,
      );
      assert.equal(
        (await call(app.url, 'GET', '/api/profile', { token: refreshed.body.access_token })).status,
        401,
      );
      const form = await call(app.url, 'POST', '/api/oauth/token', {
        body: `grant_type=refresh_token&refresh_token=${reg.body.refresh_token}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(form.status, 200, form.text);
    });

    it('scopes the refresh cookie to the prefixed auth path and enforces the CSRF rules', async () => {
      const reg = await call(app.url, 'POST', '/api/auth/register', {
        json: { email: `${framework}-cookie@example.com`, password: PASSWORD },
        headers: { origin: ORIGIN },
      });
      const cookie = reg.headers.getSetCookie().join('\n');
      assert.match(cookie, /tessera_refresh=tsr_[^;]+; .*Path=\/api\/auth/);
      const value = /tessera_refresh=([^;]+)/.exec(cookie)?.[1];
      const noHeader = await call(app.url, 'POST', '/api/auth/refresh', {
        headers: { origin: ORIGIN, cookie: `tessera_refresh=${value}` },
      });
      assert.equal(noHeader.status, 403);
      const ok = await call(app.url, 'POST', '/api/auth/refresh', {
        headers: { origin: ORIGIN, 'tessera-transport': 'cookie', cookie: `tessera_refresh=${value}` },
      });
      assert.equal(ok.status, 200, ok.text);
    });

    it('publishes metadata with prefixed endpoints and the JWKS', async () => {
      const meta = await call(app.url, 'GET', '/api/.well-known/oauth-authorization-server');
      assert.equal(meta.status, 200);
      assert.equal(meta.body.token_endpoint, `${ORIGIN}/api/oauth/token`);
      assert.equal(meta.body.jwks_uri, `${ORIGIN}/api/.well-known/jwks.json`);
      const jwks = await call(app.url, 'GET', '/api/.well-known/jwks.json');
      assert.equal(jwks.body.keys.length, 1);
    });

    it('answers bad input with Tessera errors and leaves the app’s own routes alone', async () => {
      const big = await call(app.url, 'POST', '/api/auth/login', {
        body: JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(20_000) }),
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(big.status, 413);
      assert.equal(big.body.error, 'payload_too_large');
      const malformed = await call(app.url, 'POST', '/api/auth/login', {
        body: '{"email":',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.error, 'invalid_request');
      const hello = options.echo
        ? await call(app.url, 'POST', '/api/echo', { json: { a: 1 } })
        : await call(app.url, 'GET', '/api/hello');
      assert.equal(hello.status, 200);
      if (options.echo) assert.deepEqual(hello.body, { echo: { a: 1 } });
      const unknown = await call(app.url, 'GET', '/api/nothing-here');
      assert.equal(unknown.status, 404);
    });
  });
}
