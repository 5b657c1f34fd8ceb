// Claims of docs/security.md about the running server that no other test proved: its log after a full
// flow holds no credential it issued or was sent, request entries carry only the request's outline,
// reuse is counted in /metrics, and the demo page's policy allows only its own scripts and styles.
// test/security-doc.test.ts checks that the doc names these tests.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { browserSkip, launchChromium, startBrowserTestServer } from './helpers/browser.ts';
import { type ChildServer, freePort, startChildServer, stopChildServer } from './helpers/child-server.ts';
import { call, PASSWORD, startTestServer, type TestServer } from './helpers/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-security-claims-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SERVICE_TOKEN = 'service-token-for-the-security-claims-0123456789';
const NEW_PASSWORD = 'another long passphrase for the log test';
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

/** The `tessera_refresh` value a response sets, or null. */
function refreshCookie(headers: Headers): string | null {
  for (const line of headers.getSetCookie()) {
    const match = /^tessera_refresh=([^;]*)/.exec(line);
    if (match?.[1]) return match[1];
  }
  return null;
}

describe('a full flow at debug level, logged as JSON', () => {
  let server: ChildServer;
  let log: Array<Record<string, unknown>> = [];
  let text = '';
  const credentials = new Map<string, string>();
  let metrics = '';

  before(async () => {
    const dataDir = join(dir, 'flow');
    server = await startChildServer({
      TESSERA_PORT: String(await freePort()),
      TESSERA_DATA_DIR: dataDir,
      TESSERA_LOG_FORMAT: 'json',
      TESSERA_LOG_LEVEL: 'debug',
      TESSERA_REUSE_GRACE: '0',
      TESSERA_SERVICE_TOKEN: SERVICE_TOKEN,
    });
    const url = server.url;
    const keep = (label: string, value: unknown) => {
      assert.equal(typeof value, 'string', label);
      credentials.set(label, value as string);
    };
    const service = { authorization: `Bearer ${SERVICE_TOKEN}` };
    try {
      credentials.set('the password', PASSWORD);
      credentials.set('the new password', NEW_PASSWORD);
      credentials.set('the service token', SERVICE_TOKEN);
      credentials.set('the secret', readFileSync(join(dataDir, 'secret'), 'utf8').trim());
      // Body transport: register, refresh, a reuse (a warning), sign in again.
      const email = 'log-flow@example.com';
      const reg = await call(url, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
      assert.equal(reg.status, 201);
      keep('the first access token', reg.body.access_token);
      keep('the first refresh token', reg.body.refresh_token);
      const next = await call(url, 'POST', '/auth/refresh', {
        json: { refresh_token: reg.body.refresh_token },
      });
      assert.equal(next.status, 200);
      keep('a refreshed access token', next.body.access_token);
      keep('a rotated refresh token', next.body.refresh_token);
      const reuse = await call(url, 'POST', '/auth/refresh', {
        json: { refresh_token: reg.body.refresh_token },
      });
      assert.equal(reuse.body.error, 'invalid_grant');
      const login = await call(url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
      assert.equal(login.status, 200);
      keep('a login access token', login.body.access_token);
      keep('a login refresh token', login.body.refresh_token);
      const bearer = login.body.access_token as string;
      // Account routes: profile, devices, a password change (fresh tokens).
      assert.equal(
        (await call(url, 'PATCH', '/auth/me', { token: bearer, json: { name: 'Ada' } })).status,
        200,
      );
      assert.equal((await call(url, 'GET', '/auth/sessions', { token: bearer })).status, 200);
      const changed = await call(url, 'POST', '/auth/password', {
        token: bearer,
        json: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      });
      assert.equal(changed.status, 200, changed.text);
      keep('the access token after a password change', changed.body.access_token);
      keep('the refresh token after a password change', changed.body.refresh_token);
      // OAuth routes: a refresh grant, introspection, revocation.
      const oauth = await call(url, 'POST', '/oauth/token', {
        headers: FORM,
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: changed.body.refresh_token,
        }).toString(),
      });
      assert.equal(oauth.status, 200);
      keep('an OAuth access token', oauth.body.access_token);
      keep('an OAuth refresh token', oauth.body.refresh_token);
      const introspection = await call(url, 'POST', '/oauth/introspect', {
        headers: { ...FORM, ...service },
        body: `token=${oauth.body.access_token}`,
      });
      assert.equal(introspection.body.active, true);
      // Cookie transport: the refresh token travels in a cookie.
      const browser = { origin: url, 'tessera-transport': 'cookie' };
      const cookieLogin = await call(url, 'POST', '/auth/login', {
        headers: browser,
        json: { email, password: NEW_PASSWORD },
      });
      assert.equal(cookieLogin.status, 200);
      keep('a cookie-transport access token', cookieLogin.body.access_token);
      keep('a refresh cookie', refreshCookie(cookieLogin.headers));
      const cookieRefresh = await call(url, 'POST', '/auth/refresh', {
        headers: { ...browser, cookie: `tessera_refresh=${credentials.get('a refresh cookie')}` },
      });
      assert.equal(cookieRefresh.status, 200);
      keep('a rotated refresh cookie', refreshCookie(cookieRefresh.headers));
      // Credentials where they do not belong: refused, and still not logged.
      const misplaced: Array<[string, string, Parameters<typeof call>[3]]> = [
        ['GET', `/auth/me?access_token=${oauth.body.access_token}`, {}],
        [
          'POST',
          '/auth/login',
          { json: { email: oauth.body.refresh_token, password: oauth.body.access_token } },
        ],
        ['GET', '/auth/me', { headers: { authorization: `Bearer ${oauth.body.refresh_token}` } }],
        ['GET', '/auth/me', { headers: { authorization: `Basic ${oauth.body.access_token}` } }],
        ['PATCH', '/auth/me', { token: oauth.body.access_token, json: { [oauth.body.refresh_token]: 1 } }],
        ['POST', '/auth/refresh', { json: { refresh_token: `${oauth.body.refresh_token}x` } }],
        [
          'POST',
          '/oauth/introspect',
          { headers: { ...FORM, authorization: `Bearer ${SERVICE_TOKEN}x` }, body: 'token=x' },
        ],
        [
          'POST',
          '/auth/password',
          { token: oauth.body.access_token, json: { current_password: NEW_PASSWORD } },
        ],
      ];
      for (const [method, path, options] of misplaced) {
        const response = await call(url, method, path, options);
        assert.ok(response.status >= 400 && response.status < 500, `${method} ${path}: ${response.status}`);
        // The refusal's message and headers do not repeat the credential. (`field` names the offending
        // field as the client wrote it, so a credential sent as a JSON key comes back there, to the
        // client that sent it.)
        const description = String(response.body?.error_description ?? '');
        const lines = [description];
        response.headers.forEach((value, name) => {
          lines.push(`${name}: ${value}`);
        });
        const answer = lines.join('\n');
        for (const credential of [oauth.body.access_token, oauth.body.refresh_token, SERVICE_TOKEN]) {
          assert.ok(
            !answer.includes(credential),
            `${method} ${path} answers with a credential: ${response.text}`,
          );
        }
      }
      // A session id in the path: another device's session, ended from this one.
      const other = await call(url, 'POST', '/auth/login', { json: { email, password: NEW_PASSWORD } });
      keep('another device’s access token', other.body.access_token);
      keep('another device’s refresh token', other.body.refresh_token);
      credentials.set('a session id', other.body.session_id);
      const ended = await call(url, 'DELETE', `/auth/sessions/${other.body.session_id}`, {
        token: cookieLogin.body.access_token,
      });
      assert.equal(ended.status, 204);
      // Revocation and logout.
      const revoke = await call(url, 'POST', '/oauth/revoke', {
        headers: { ...FORM, ...service },
        body: `token=${oauth.body.refresh_token}`,
      });
      assert.equal(revoke.status, 200);
      const logout = await call(url, 'POST', '/auth/logout', { token: cookieLogin.body.access_token });
      assert.equal(logout.status, 204);
      metrics = (await call(url, 'GET', '/metrics', { headers: service })).text;
    } finally {
      await stopChildServer(server, 'SIGTERM');
    }
    text = server
      .output()
      .split('\n')
      .filter((line) => line && !line.startsWith('Tessera is running at '))
      .join('\n');
    log = text.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  });

  it('writes no credential it issued or was sent, anywhere in its log', () => {
    assert.ok(credentials.size >= 15, `only ${credentials.size} credentials`);
    // The control: the log is the whole flow (one entry per request, the reuse warning).
    assert.ok(log.filter((entry) => entry.msg === 'request').length >= 20, text);
    assert.ok(log.some((entry) => /reuse detected/.test(String(entry.msg))));
    for (const [label, credential] of credentials) {
      assert.ok(credential.length >= 16, label);
      assert.ok(!text.includes(credential), `${label} is in the log`);
      // Nor a recognisable part of one (a JWT's signature, the MAC half of a refresh token).
      const tail = credential.slice(-24);
      assert.ok(!text.includes(tail), `the end of ${label} is in the log`);
    }
  });

  it('logs a request as its method, route pattern, status and duration only', () => {
    const requests = log.filter((entry) => entry.msg === 'request');
    for (const entry of requests) {
      assert.deepEqual(Object.keys(entry).sort(), [
        'durationMs',
        'level',
        'method',
        'msg',
        'route',
        'status',
        'time',
      ]);
      assert.doesNotMatch(String(entry.route), /[?=]/, 'no query string');
    }
    // The pattern, not the path: a session id in the URL is not logged.
    assert.ok(requests.some((entry) => entry.route === '/auth/sessions/:id' && entry.method === 'DELETE'));
  });

  it('counts the reuse detection in /metrics', () => {
    const line = metrics
      .split('\n')
      .find((row) => /^tessera_events_total\{[^}]*type="session\.reuse_detected"/.test(row));
    assert.ok(line, metrics);
    assert.ok(Number(line.split(' ').at(-1)) >= 1, line);
  });
});

describe('the demo page', () => {
  it('allows only its own scripts and styles (no inline script, no other origin)', async () => {
    const server = await startTestServer({}, { demo: true });
    try {
      const page = await fetch(`${server.url}/`);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /text\/html/);
      const policy = new Map(
        (page.headers.get('content-security-policy') ?? '')
          .split(';')
          .map((directive) => directive.trim().split(/\s+/))
          .map(([name = '', ...sources]) => [name, sources] as const),
      );
      assert.deepEqual(policy.get('default-src'), ["'none'"]);
      for (const name of ['script-src', 'style-src', 'connect-src']) {
        assert.deepEqual(policy.get(name), ["'self'"], name);
      }
      assert.deepEqual(policy.get('frame-ancestors'), ["'none'"]);
      // The page itself loads no inline script (which the policy would block anyway).
      const html = await page.text();
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i);
    } finally {
      await server.close();
    }
  });
});

describe('the browser client', { skip: browserSkip() }, () => {
  let server: TestServer;
  let browser: Browser;
  before(async () => {
    server = await startBrowserTestServer('60s');
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it('keeps every token out of what page script can read back: Web Storage, document.cookie, IndexedDB', async () => {
    // A bare page of the server's origin (the health route), importing the client bundle it serves.
    const context = await browser.newContext({ bypassCSP: true });
    try {
      const page = await context.newPage();
      await page.goto(`${server.url}/healthz`);
      const seen = await page.evaluate(async (password) => {
        const { createTesseraClient } = await import('/tessera-client.js' as string);
        localStorage.setItem('control', 'the dump reads Web Storage');
        const client = createTesseraClient({ baseUrl: '' });
        await client.register(`storage${Date.now()}@example.com`, password);
        const tokens = [await client.getAccessToken()];
        await client.refresh();
        tokens.push(await client.getAccessToken());
        const me = (await client.fetch('/auth/me')).status;
        const entries = (storage: Storage) =>
          Array.from({ length: storage.length }, (_, i) => storage.key(i) as string).map(
            (key) => `${key}=${storage.getItem(key)}`,
          );
        const databases = (await indexedDB.databases()).map((db) => db.name ?? '');
        const caches = 'caches' in globalThis ? await globalThis.caches.keys() : [];
        const dump = [
          ...entries(localStorage),
          ...entries(sessionStorage),
          document.cookie,
          ...databases,
          ...caches,
          window.name,
        ].join('\n');
        client.close();
        return { tokens, me, dump, databases };
      }, PASSWORD);
      assert.equal(seen.me, 200);
      assert.equal(seen.tokens.length, 2);
      assert.notEqual(seen.tokens[0], seen.tokens[1], 'a refresh happened');
      for (const token of seen.tokens) assert.match(token, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
      assert.match(seen.dump, /the dump reads Web Storage/);
      assert.deepEqual(seen.databases, [], 'no IndexedDB database');
      for (const token of seen.tokens) assert.ok(!seen.dump.includes(token), 'an access token is readable');
      assert.doesNotMatch(seen.dump, /tsr_|eyJ/, 'no refresh token and no JWT');
    } finally {
      await context.close();
    }
  });
});

describe('the revocation feed’s size', () => {
  it('grows with revocations only, never with registrations, and forgets each after one token lifetime', async () => {
    const t = await startTestServer();
    try {
      const snapshot = async () => {
        const response = await call(t.url, 'GET', '/auth/revocations');
        assert.equal(response.status, 200);
        return response.body.revocations as Array<{ sid?: string }>;
      };
      const users = [];
      for (let i = 0; i < 30; i += 1) {
        const response = await call(t.url, 'POST', '/auth/register', {
          json: { email: `flood${i}@example.com`, password: PASSWORD },
        });
        assert.equal(response.status, 201);
        users.push(response.body);
      }
      assert.deepEqual(await snapshot(), [], 'thirty registrations, no entry');
      for (const user of users.slice(0, 3)) {
        const out = await call(t.url, 'POST', '/auth/logout', {
          json: { refresh_token: user.refresh_token },
        });
        assert.equal(out.status, 204);
      }
      assert.deepEqual(
        (await snapshot()).map((entry) => entry.sid).sort(),
        users
          .slice(0, 3)
          .map((user) => user.session_id)
          .sort(),
      );
      // Access TTL (10 min) + leeway (2 s): no token of those sessions can still be valid.
      t.clock.advance(602_000);
      assert.deepEqual(await snapshot(), []);
    } finally {
      await t.close();
    }
  });
});
