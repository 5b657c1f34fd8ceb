import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
// @ts-expect-error oidc-provider ships no type declarations.
import Provider from 'oidc-provider';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { start } from '../examples/oidc-app/server.ts';
import { browserSkip, launchChromium } from './helpers/browser.ts';
import { freePort } from './helpers/child-server.ts';
import { TEST_ARGON2 } from './helpers/server.ts';

const skip = browserSkip();
const CLIENT_ID = 'oidc-app';
const CLIENT_SECRET = randomBytes(24).toString('base64url');

// biome-ignore lint/suspicious/noExplicitAny: results come back from the page as plain JSON.
type Json = any;
declare global {
  interface Window {
    oidcDemo: Record<string, (...args: unknown[]) => Promise<Json>> & { ready: Promise<Json> };
  }
}

/**
 * A small OpenID provider on loopback (oidc-provider from npm, its development login and consent
 * pages): any login name is an account whose email is `<name>@example.com`, verified.
 */
async function startProvider(port: number, appUrl: string): Promise<{ issuer: string; server: Server }> {
  const issuer = `http://127.0.0.1:${port}`;
  const signingKey = {
    ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
    kid: randomBytes(8).toString('base64url'),
    alg: 'RS256',
    use: 'sig',
  };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [`${appUrl}/callback`],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // The ID token carries the email claims (Tessera reads them from it, not from userinfo).
    conformIdTokenClaims: false,
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({ sub: id, email: `${id}@example.com`, email_verified: true }),
    }),
    features: { devInteractions: { enabled: true } },
  });
  const server = createServer(provider.callback());
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { issuer, server };
}

describe('example: sign in with an OpenID provider, exchanged at /auth/login/external', { skip }, () => {
  let provider: { issuer: string; server: Server };
  let app: Awaited<ReturnType<typeof start>>;
  let dir: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let appUrl: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-oidc-'));
    const [providerPort, appPort] = [await freePort(), await freePort()];
    appUrl = `http://127.0.0.1:${appPort}`;
    provider = await startProvider(providerPort, appUrl);
    app = await start(appPort, {
      dataDir: dir,
      issuer: appUrl,
      argon2: TEST_ARGON2,
      rateLimits: false,
      provider: { issuer: provider.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
    });
    browser = await launchChromium();
    context = await browser.newContext();
    page = await context.newPage();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    provider?.server.closeAllConnections();
    await new Promise((resolve) => provider?.server.close(resolve));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const inPage = (name: string): Promise<Json> =>
    page.evaluate((method) => window.oidcDemo[method]?.(), name);

  /** Goes through the provider's login and consent pages (when it asks), back to the app, signed in. */
  async function signInAs(login: string): Promise<Json> {
    await page.goto(`${appUrl}/login`);
    // Login, then consent: both at /interaction/<uid>, so each step waits for the next page's load.
    for (let step = 0; step < 4 && !page.url().startsWith(appUrl); step += 1) {
      if (await page.locator('input[name="login"]').count()) {
        await page.fill('input[name="login"]', login);
        await page.fill('input[name="password"]', 'any password');
      }
      await Promise.all([page.waitForEvent('load'), page.click('button[type="submit"]')]);
    }
    assert.ok(page.url().startsWith(`${appUrl}/`), page.url());
    return page.evaluate(() => window.oidcDemo.ready);
  }

  it('signs in through the provider; Tessera creates the user from the verified ID token', async () => {
    const result = await signInAs('grace');
    assert.equal(result.status, 200, JSON.stringify(result));
    assert.equal(result.body.issued_token_type, 'urn:ietf:params:oauth:token-type:refresh_token');
    assert.equal(result.body.refresh_token, undefined, 'the refresh token is in the HttpOnly cookie');
    const userId = JSON.parse(
      Buffer.from(result.body.access_token.split('.')[1], 'base64url').toString(),
    ).sub;
    const user = await app.engine.getUser(userId);
    assert.equal(user.email, 'grace@example.com');
    assert.equal(user.emailVerified, true);
    assert.deepEqual(
      (await app.engine.listIdentities(userId)).map((i) => [i.issuer, i.subject]),
      [[provider.issuer, 'grace']],
    );
    const orders = await inPage('orders');
    assert.equal(orders.status, 200);
    assert.deepEqual(orders.body.amr, ['ext']);
    assert.match((await page.textContent('#status')) ?? '', /Signed in/);
  });

  it('refreshes and rotates through the cookie, lists the device, survives a reload', async () => {
    const cookie = async () => (await context.cookies()).find((c) => c.name === 'tessera_refresh')?.value;
    const before = await cookie();
    const refreshed = await inPage('refresh');
    assert.equal(refreshed.status, 200);
    assert.notEqual(await cookie(), before);
    const sessions = await inPage('sessions');
    assert.equal(sessions.body.sessions.length, 1);
    assert.equal(sessions.body.sessions[0].device_name, 'Chrome on Linux');
    assert.equal(sessions.body.sessions[0].current, true);
    await page.reload();
    const restored = await page.evaluate(() => window.oidcDemo.ready);
    assert.equal(restored.status, 200);
    assert.equal(restored.body.session_id, sessions.body.sessions[0].id);
  });

  it('maps the same provider account to the same user at the next sign-in, and logs out like any session', async () => {
    const users = (await app.engine.listUsers()).users.length;
    const again = await signInAs('grace');
    assert.equal(again.status, 200, JSON.stringify(again));
    assert.equal((await app.engine.listUsers()).users.length, users);
    const userId = JSON.parse(Buffer.from(again.body.access_token.split('.')[1], 'base64url').toString()).sub;
    assert.equal((await inPage('sessions')).body.sessions.length, 2);
    assert.equal((await inPage('logout')).status, 204);
    const ended = await inPage('refresh');
    assert.equal(ended.status, 400);
    assert.deepEqual(
      (await app.engine.listSessions(userId, null)).map((s) => s.id).includes(again.body.session_id),
      false,
    );
    assert.equal((await app.engine.listSessions(userId, null)).length, 1);
  });

  it('refuses a callback it did not start, and the ID token replayed with another nonce', async () => {
    const forged = await page.goto(`${appUrl}/callback?code=x&state=y`);
    assert.equal(forged?.status(), 400);
    assert.equal((await signInAs('eve')).status, 200);
    // The ID token and nonce the callback page exchanged (a page script constant).
    const exchanged = (await page.evaluate('exchange')) as { subject_token: string; nonce: string };
    assert.match(exchanged.subject_token, /^eyJ/);
    const userId =
      (await app.engine.findUserByIdentity({ issuer: provider.issuer, subject: 'eve' }))?.id ?? '';
    const before = (await app.engine.listSessions(userId, null)).map((s) => s.id);
    const replay = (nonce: string) =>
      page.evaluate(
        async ([token, value]) => {
          const r = await fetch('/api/auth/login/external', {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'tessera-transport': 'cookie' },
            body: JSON.stringify({
              subject_token: token,
              subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
              nonce: value,
            }),
          });
          return { status: r.status, body: await r.json() };
        },
        [exchanged.subject_token, nonce] as const,
      );
    const wrong = await replay('another nonce');
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error, 'invalid_grant');
    assert.deepEqual(
      (await app.engine.listSessions(userId, null)).map((s) => s.id),
      before,
    );
  });
});
