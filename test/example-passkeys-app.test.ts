import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { start } from '../examples/passkeys-app/server.ts';
import { browserSkip, launchChromium } from './helpers/browser.ts';
import { freePort } from './helpers/child-server.ts';
import { TEST_ARGON2 } from './helpers/server.ts';

const skip = browserSkip();

// biome-ignore lint/suspicious/noExplicitAny: results come back from the page as plain JSON.
type Json = any;
declare global {
  interface Window {
    passkeys: Record<string, (...args: unknown[]) => Promise<Json>>;
  }
}

describe('example: passkeys (WebAuthn in Chromium) then Tessera sessions', { skip }, () => {
  let app: Awaited<ReturnType<typeof start>>;
  let dir: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-passkeys-'));
    const port = await freePort();
    // WebAuthn refuses IP addresses as relying-party ids: the page is served as localhost.
    base = `http://localhost:${port}`;
    app = await start(port, { dataDir: dir, issuer: base, argon2: TEST_ARGON2, rateLimits: false });
    browser = await launchChromium();
    context = await browser.newContext();
    page = await context.newPage();
    // A virtual platform authenticator (resident keys, user verification) through the DevTools protocol.
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await page.goto(`${base}/`);
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const inPage = (name: string, ...args: unknown[]): Promise<Json> =>
    page.evaluate(([method, values]) => window.passkeys[method as string]?.(...(values as unknown[])), [
      name,
      args,
    ] as const);

  const refreshCookie = async () => (await context.cookies()).find((c) => c.name === 'tessera_refresh');

  it('creates an account with a passkey and starts a session with amr hwk+user', async () => {
    const registered = await inPage('register', 'ada@example.com', 'Ada’s laptop');
    assert.equal(registered.status, 201, JSON.stringify(registered));
    assert.equal(registered.body.refresh_token, undefined, 'the refresh token is in the HttpOnly cookie');
    const claims = JSON.parse(
      Buffer.from(registered.body.access_token.split('.')[1], 'base64url').toString(),
    );
    assert.deepEqual(claims.amr, ['hwk', 'user']);
    const user = await app.engine.getUser(claims.sub);
    assert.equal(user.email, 'ada@example.com');
    const cookie = await refreshCookie();
    assert.ok(
      cookie?.httpOnly && cookie.secure && cookie.sameSite === 'Strict' && cookie.path === '/api/auth',
    );
    const orders = await inPage('orders');
    assert.equal(orders.status, 200);
    assert.deepEqual(orders.body.amr, ['hwk', 'user']);
  });

  it('refreshes and rotates the session through the cookie, and lists it with its device', async () => {
    const before = await refreshCookie();
    const token = await page.evaluate(() => window.passkeys.token?.());
    const refreshed = await inPage('refresh');
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed));
    const after = await refreshCookie();
    assert.ok(before && after);
    assert.notEqual(after.value, before.value, 'the refresh token rotated');
    assert.notEqual(refreshed.body.access_token, token);
    const sessions = await inPage('sessions');
    assert.equal(sessions.body.sessions.length, 1);
    assert.equal(sessions.body.sessions[0].device_name, 'Ada’s laptop');
    assert.match(sessions.body.sessions[0].user_agent, /Chrome/);
    assert.equal(sessions.body.sessions[0].current, true);
  });

  it('signs in again with the passkey (a second device session) and revokes the first like any other', async () => {
    const first = (await inPage('sessions')).body.sessions[0].id;
    const signedIn = await inPage('signIn', 'Second browser');
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn));
    assert.notEqual(signedIn.body.session_id, first);
    const sessions = await inPage('sessions');
    assert.deepEqual(
      sessions.body.sessions.map((s: Json) => [s.device_name, s.current]),
      [
        ['Ada’s laptop', false],
        ['Second browser', true],
      ],
    );
    assert.equal((await inPage('endSession', first)).status, 204);
    const userId = JSON.parse(
      Buffer.from(signedIn.body.access_token.split('.')[1], 'base64url').toString(),
    ).sub;
    assert.deepEqual(
      (await app.engine.listSessions(userId, null)).map((s) => s.id),
      [signedIn.body.session_id],
    );
    assert.equal((await inPage('refresh')).status, 200);
    assert.equal((await inPage('logout')).status, 204);
    const ended = await inPage('refresh');
    assert.equal(ended.status, 400);
    assert.ok(['invalid_request', 'invalid_grant'].includes(ended.body.error), JSON.stringify(ended));
    assert.deepEqual(await app.engine.listSessions(userId, null), []);
  });

  it('refuses a forged assertion and an unknown passkey, starting no session', async () => {
    const userCount = (await app.engine.listUsers()).users.length;
    const forged = await page.evaluate(async () => {
      const start = await fetch('/passkeys/login/options', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }).then((r) => r.json());
      const response = await fetch('/passkeys/login/verify', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          flow: start.flow,
          response: { id: 'bm90LWEta2V5', rawId: 'bm90LWEta2V5', type: 'public-key', response: {} },
        }),
      });
      return response.status;
    });
    assert.equal(forged, 401);
    const taken = await inPage('register', 'ada@example.com');
    assert.equal(taken.status, 409);
    assert.equal((await app.engine.listUsers()).users.length, userCount);
  });
});
