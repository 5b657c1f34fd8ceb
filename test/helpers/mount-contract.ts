import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEngine, createMemoryStore, type Engine } from '@tessera/core';
import type { ExampleOptions, RunningExample } from '../../examples/engine.ts';
import { call, PASSWORD, TEST_ARGON2 } from './server.ts';

/**
 * How a library-mode example starts: `start(port, options)` from `examples/<framework>-app/server.ts`
 * (or a child process, as the Next.js app runs: its engine is then out of reach, so only its URL counts).
 */
export type ExampleStart = (
  port: number,
  options: ExampleOptions,
) => Promise<Pick<RunningExample, 'url' | 'close'>>;

/** The example's public URL in the tests: its issuer and the origin allowed to use the cookie. */
export const ORIGIN = 'http://127.0.0.1:3000';

/**
 * Starts an example on a loopback port in a fresh temp directory, with fast hashing and no rate
 * limits; `close()` stops it (once) and deletes the directory.
 * @example
 * const app = await startExample('koa', start);
 */
export async function startExample(
  name: string,
  start: ExampleStart,
): Promise<Pick<RunningExample, 'url' | 'close'> & { stopped: boolean }> {
  const dataDir = mkdtempSync(join(tmpdir(), `tessera-${name}-`));
  const app = await start(0, { dataDir, issuer: ORIGIN, argon2: TEST_ARGON2, rateLimits: false });
  const running = {
    url: app.url,
    stopped: false,
    async close() {
      if (!running.stopped) {
        running.stopped = true;
        await app.close();
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return running;
}

/**
 * An engine over a memory store with fast hashing and no rate limits, issuer {@link ORIGIN}.
 * @example
 * const engine = await createTestEngine();
 */
export function createTestEngine(): Promise<Engine> {
  return createEngine({
    store: createMemoryStore(),
    secret: new Uint8Array(32).fill(7),
    issuer: ORIGIN,
    argon2: TEST_ARGON2,
    rateLimits: false,
  });
}

/**
 * Listens with a Node HTTP app (Express or Koa) on a loopback port; resolves to its URL and `close()`.
 * @example
 * const { url, close } = await listenOnLoopback(app);
 */
export async function listenOnLoopback(app: {
  listen(port: number, host: string): Server;
}): Promise<{ url: string; close(): Promise<void> }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function subjectOf(accessToken: string): string {
  return JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString()).sub;
}

function cookieValue(headers: Headers): string | undefined {
  return /tessera_refresh=([^;]*)/.exec(headers.getSetCookie().join('\n'))?.[1];
}

/**
 * POSTs `bytes` as JSON with chunked transfer encoding (no Content-Length), as a streaming client does.
 * @example
 * const { status } = await postChunked(`${url}/api/auth/login`, Buffer.from(big));
 */
export async function postChunked(url: string, bytes: Buffer): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: new ReadableStream({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 4096) controller.enqueue(bytes.subarray(i, i + 4096));
        controller.close();
      },
    }),
    duplex: 'half',
  } as RequestInit);
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/** Reads a server-sent-events response until its text matches `pattern`; returns the text so far. */
async function readUntil(reader: ReadableStreamDefaultReader<Uint8Array>, pattern: RegExp): Promise<string> {
  const decoder = new TextDecoder();
  let text = '';
  while (!pattern.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`stream ended before ${pattern}: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

/** Options of {@link mountContract}. */
export interface ContractOptions {
  /** Where Tessera is mounted. Default `/api`. */
  prefix?: string;
  /** The host serves the example app's own routes (`/hello`, `/echo`, `/profile`) beside Tessera. Default true. */
  appRoutes?: boolean;
  /** Sent as the bearer token of service routes (the revocation feed), for hosts that cannot trust loopback. */
  serviceToken?: string;
}

/**
 * The same contract checks for every framework mount, against the example app itself: Tessera's
 * routes under `/api` (tokens, cookies and CSRF, discovery, errors, HEAD and OPTIONS, the revocation
 * stream), and the app's own routes untouched (its body parser, its protected route, its 404).
 * @example
 * import { start } from '../examples/koa-app/server.ts';
 * mountContract('koa', start);
 */
export function mountContract(framework: string, start: ExampleStart, options: ContractOptions = {}): void {
  const p = options.prefix ?? '/api';
  const appRoutes = options.appRoutes ?? true;
  const service: Record<string, string> = options.serviceToken
    ? { authorization: `Bearer ${options.serviceToken}` }
    : {};
  const cookiePath = new RegExp(`Path=${p}/auth(;|$)`);
  // The checks of the app's own routes exist only for hosts that serve an app beside Tessera.
  const appIt = appRoutes ? it : () => undefined;
  describe(`${appRoutes ? 'library mode' : 'host'}: ${framework}`, () => {
    let app: Awaited<ReturnType<typeof startExample>>;
    before(async () => {
      app = await startExample(framework, start);
    });
    after(() => app.close());

    it('serves register, login, body refresh, sessions and logout under the prefix', async () => {
      const email = `${framework}@example.com`;
      const reg = await call(app.url, 'POST', `${p}/auth/register`, { json: { email, password: PASSWORD } });
      assert.equal(reg.status, 201, reg.text);
      assert.equal(reg.headers.get('cache-control'), 'no-store');
      assert.match(reg.body.refresh_token, /^tsr_/);
      const login = await call(app.url, 'POST', `${p}/auth/login`, { json: { email, password: PASSWORD } });
      assert.equal(login.status, 200, login.text);
      const refreshed = await call(app.url, 'POST', `${p}/auth/refresh`, {
        json: { refresh_token: login.body.refresh_token },
      });
      assert.equal(refreshed.status, 200, refreshed.text);
      assert.notEqual(refreshed.body.refresh_token, login.body.refresh_token);
      const sessions = await call(app.url, 'GET', `${p}/auth/sessions`, {
        token: refreshed.body.access_token,
      });
      assert.equal(sessions.status, 200, sessions.text);
      assert.equal(sessions.body.sessions.length, 2);
      assert.deepEqual(
        sessions.body.sessions
          .filter((s: { current: boolean }) => s.current)
          .map((s: { id: string }) => s.id),
        [login.body.session_id],
      );
      const logout = await call(app.url, 'POST', `${p}/auth/logout`, {
        json: { refresh_token: refreshed.body.refresh_token },
      });
      assert.equal(logout.status, 204, logout.text);
      const again = await call(app.url, 'POST', `${p}/auth/refresh`, {
        json: { refresh_token: refreshed.body.refresh_token },
      });
      assert.equal(again.status, 400);
      assert.equal(again.body.error, 'invalid_grant');
    });

    appIt('lets the app’s own route accept the access token, and refuse it after logout', async () => {
      const reg = await call(app.url, 'POST', `${p}/auth/register`, {
        json: { email: `${framework}-profile@example.com`, password: PASSWORD },
      });
      const none = await call(app.url, 'GET', `${p}/profile`);
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      const profile = await call(app.url, 'GET', `${p}/profile`, { token: reg.body.access_token });
      assert.equal(profile.status, 200, profile.text);
      assert.equal(profile.body.claims.sub, subjectOf(reg.body.access_token));
      assert.equal(profile.body.claims.sid, reg.body.session_id);
      const logout = await call(app.url, 'POST', `${p}/auth/logout`, { token: reg.body.access_token });
      assert.equal(logout.status, 204, logout.text);
      const refused = await call(app.url, 'GET', `${p}/profile`, { token: reg.body.access_token });
      assert.equal(refused.status, 401);
      assert.match(
        refused.headers.get('www-authenticate') ?? '',
        /^Bearer (realm="[^"]*", )?error="invalid_token"/,
      );
    });

    it('takes a form body at /oauth/token and answers RFC 6749 errors', async () => {
      const reg = await call(app.url, 'POST', `${p}/auth/register`, {
        json: { email: `${framework}-oauth@example.com`, password: PASSWORD },
      });
      const form = await call(app.url, 'POST', `${p}/oauth/token`, {
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: reg.body.refresh_token,
        }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(form.status, 200, form.text);
      assert.equal(form.body.token_type, 'Bearer');
      assert.match(form.body.refresh_token, /^tsr_/);
      assert.equal(form.headers.get('cache-control'), 'no-store');
      const unsupported = await call(app.url, 'POST', `${p}/oauth/token`, {
        body: 'grant_type=password',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(unsupported.status, 400);
      assert.equal(unsupported.body.error, 'unsupported_grant_type');
    });

    it('scopes the refresh cookie to <prefix>/auth and enforces the CSRF rules', async () => {
      const reg = await call(app.url, 'POST', `${p}/auth/register`, {
        json: { email: `${framework}-cookie@example.com`, password: PASSWORD },
        headers: { origin: ORIGIN },
      });
      assert.equal(reg.status, 201, reg.text);
      assert.equal(reg.body.refresh_token, undefined, 'cookie transport keeps the token out of the body');
      const cookie = reg.headers.getSetCookie().join('\n');
      assert.match(cookie, /tessera_refresh=tsr_[^;]+;/);
      assert.match(cookie, cookiePath);
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /Secure/);
      assert.match(cookie, /SameSite=Strict/);
      const sent = `tessera_refresh=${cookieValue(reg.headers)}`;
      const noHeader = await call(app.url, 'POST', `${p}/auth/refresh`, {
        headers: { origin: ORIGIN, cookie: sent },
      });
      assert.equal(noHeader.status, 403);
      assert.equal(noHeader.body.error, 'csrf_header_required');
      const otherOrigin = await call(app.url, 'POST', `${p}/auth/refresh`, {
        headers: { origin: 'https://evil.example', 'tessera-transport': 'cookie', cookie: sent },
      });
      assert.equal(otherOrigin.status, 403);
      assert.equal(otherOrigin.body.error, 'forbidden_origin');
      const ok = await call(app.url, 'POST', `${p}/auth/refresh`, {
        headers: { origin: ORIGIN, 'tessera-transport': 'cookie', cookie: sent },
      });
      assert.equal(ok.status, 200, ok.text);
      assert.equal(ok.headers.get('access-control-allow-origin'), ORIGIN);
      assert.match(ok.headers.getSetCookie().join('\n'), cookiePath);
      const logout = await call(app.url, 'POST', `${p}/auth/logout`, {
        headers: {
          origin: ORIGIN,
          'tessera-transport': 'cookie',
          cookie: `tessera_refresh=${cookieValue(ok.headers)}`,
        },
      });
      assert.equal(logout.status, 204, logout.text);
      const cleared = logout.headers.getSetCookie().join('\n');
      assert.match(cleared, /tessera_refresh=;/);
      assert.match(cleared, /Max-Age=0/);
      assert.match(cleared, cookiePath);
    });

    it('publishes RFC 8414 metadata with prefixed endpoints, and the JWKS (GET and HEAD)', async () => {
      const meta = await call(app.url, 'GET', `${p}/.well-known/oauth-authorization-server`);
      assert.equal(meta.status, 200);
      assert.equal(meta.body.issuer, ORIGIN);
      assert.equal(meta.body.token_endpoint, `${ORIGIN}${p}/oauth/token`);
      assert.equal(meta.body.jwks_uri, `${ORIGIN}${p}/.well-known/jwks.json`);
      assert.equal(meta.body.revocation_endpoint, `${ORIGIN}${p}/oauth/revoke`);
      assert.equal(meta.body.introspection_endpoint, `${ORIGIN}${p}/oauth/introspect`);
      assert.equal(meta.body.tessera_revocations_endpoint, `${ORIGIN}${p}/auth/revocations`);
      assert.equal(meta.body.service_documentation, undefined, 'no link to a page that does not exist');
      // RFC 8414 §3: also at the server root for the issuer, whatever the mount prefix.
      const root = await call(app.url, 'GET', '/.well-known/oauth-authorization-server');
      assert.equal(root.status, 200, root.text);
      assert.deepEqual(root.body, meta.body);
      assert.equal(root.headers.get('x-content-type-options'), 'nosniff');
      const jwks = await call(app.url, 'GET', `${p}/.well-known/jwks.json`);
      assert.equal(jwks.status, 200);
      assert.ok(jwks.body.keys.length >= 1);
      const head = await call(app.url, 'HEAD', `${p}/.well-known/jwks.json`);
      assert.equal(head.status, 200);
      assert.equal(head.text, '');
      assert.equal(head.headers.get('content-type'), jwks.headers.get('content-type'));
      // Hosts that send GET with a length send it with HEAD too (Next.js streams both without one).
      const length = jwks.headers.get('content-length');
      if (length !== null) assert.equal(length, String(Buffer.byteLength(jwks.text)));
      assert.equal(head.headers.get('content-length'), length);
    });

    it('answers CORS preflights for allowed origins and refuses others', async () => {
      const preflight = await call(app.url, 'OPTIONS', `${p}/auth/refresh`, {
        headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
      });
      assert.equal(preflight.status, 204, preflight.text);
      assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
      assert.equal(preflight.headers.get('access-control-allow-credentials'), 'true');
      assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /tessera-transport/i);
      const refused = await call(app.url, 'OPTIONS', `${p}/auth/refresh`, {
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
      });
      assert.equal(refused.status, 403);
      assert.equal(refused.headers.get('access-control-allow-origin'), null);
      const wrongMethod = await call(app.url, 'GET', `${p}/auth/login`);
      assert.equal(wrongMethod.status, 405);
      assert.equal(wrongMethod.headers.get('allow'), 'POST');
    });

    it('answers bad input with Tessera’s errors: 413 past 16 KB, 400 for malformed JSON', async () => {
      const big = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(20_000) });
      const declared = await call(app.url, 'POST', `${p}/auth/login`, {
        body: big,
        headers: { 'content-type': 'application/json', origin: ORIGIN },
      });
      assert.equal(declared.status, 413, declared.text);
      assert.equal(declared.body.error, 'payload_too_large');
      // Refused before routing, yet with the same security and CORS headers as any other answer.
      assert.equal(declared.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(declared.headers.get('access-control-allow-origin'), ORIGIN);
      const chunked = await postChunked(`${app.url}${p}/auth/login`, Buffer.from(big));
      assert.equal(chunked.status, 413);
      assert.deepEqual((chunked.body as { error: string }).error, 'payload_too_large');
      const malformed = await call(app.url, 'POST', `${p}/auth/login`, {
        body: '{"email":',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(malformed.status, 400, malformed.text);
      assert.equal(malformed.body.error, 'invalid_request');
      const unknownField = await call(app.url, 'POST', `${p}/auth/login`, {
        json: { email: 'a@example.com', password: PASSWORD, admin: true },
      });
      assert.equal(unknownField.status, 400);
      assert.equal(unknownField.body.error, 'invalid_request');
      assert.equal(unknownField.body.field, 'admin');
    });

    appIt('leaves the app’s own routes, body parser and 404 alone', async () => {
      const hello = await call(app.url, 'GET', `${p}/hello`);
      assert.equal(hello.status, 200);
      assert.equal(hello.body.hello, `from ${framework}`);
      const echo = await call(app.url, 'POST', `${p}/echo`, { json: { a: 1, nested: { b: [2] } } });
      assert.equal(echo.status, 200, echo.text);
      assert.deepEqual(echo.body, { echo: { a: 1, nested: { b: [2] } } });
      // The app's parser answers malformed JSON on its own routes, in its own format.
      const malformed = await call(app.url, 'POST', `${p}/echo`, {
        body: '{"a":',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(malformed.status, 400);
      assert.notEqual(malformed.body?.error, 'invalid_request');
      for (const path of [`${p}/nothing-here`, `${p}/auth/nothing-here`, '/apix/auth/login']) {
        const unknown = await call(app.url, 'GET', path);
        assert.equal(unknown.status, 404, path);
        assert.doesNotMatch(unknown.text, /No such route/, `${path}: the app's 404, not Tessera's`);
      }
    });

    it('answers HEAD on the revocation stream with its headers only', async () => {
      const head = await fetch(`${app.url}${p}/auth/revocations/stream`, {
        method: 'HEAD',
        headers: service,
      });
      assert.equal(head.status, 200);
      assert.match(head.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(await head.text(), '');
      assert.equal(head.headers.get('x-content-type-options'), 'nosniff');
    });

    it('streams revocations through the mount, and closing the app ends the stream', async () => {
      const reg = await call(app.url, 'POST', `${p}/auth/register`, {
        json: { email: `${framework}-feed@example.com`, password: PASSWORD },
      });
      const response = await fetch(`${app.url}${p}/auth/revocations/stream`, { headers: service });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      await readUntil(reader, /event: heartbeat/);
      await call(app.url, 'POST', `${p}/auth/logout`, { json: { refresh_token: reg.body.refresh_token } });
      await readUntil(reader, new RegExp(reg.body.session_id));
      await app.close();
      for (;;) if ((await reader.read()).done) break;
    });
  });
}
