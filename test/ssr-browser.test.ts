import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { start } from '../examples/ssr-app/server.ts';
import { browserSkip, launchChromium } from './helpers/browser.ts';
import { freePort } from './helpers/child-server.ts';
import { PASSWORD, TEST_ARGON2 } from './helpers/server.ts';

const skip = browserSkip();

describe('example: a server-rendered app in Chromium', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-ssr-browser-'));
  let app: Awaited<ReturnType<typeof start>>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let attacker: Server;
  let attackerUrl: string;
  const refreshes: number[] = [];

  before(async () => {
    // The page's origin must be the issuer's (the allowed origin), so the port is chosen first.
    const port = await freePort();
    app = await start(port, {
      dbPath: join(dir, 'app.db'),
      issuer: `http://127.0.0.1:${port}`,
      argon2: TEST_ARGON2,
      rateLimits: false,
    });
    // Another origin on the same site (same host, another port): SameSite does not stop it, Origin does.
    attacker = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end(`<form id="f" method="post" action="${app.url}/notes"><input name="note" value="planted"></form>
<script>document.getElementById('f').submit()</script>`);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    attackerUrl = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}/`;
    browser = await launchChromium();
    context = await browser.newContext();
    page = await context.newPage();
    page.on('response', (response) => {
      if (response.url().endsWith('/api/auth/refresh')) refreshes.push(response.status());
    });
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => attacker?.close(resolve));
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a visitor without a session to sign in, through the refresh page', async () => {
    await page.goto(`${app.url}/account`);
    await page.waitForURL(`${app.url}/login?next=%2Faccount`);
    assert.deepEqual(refreshes, [400], 'one refresh attempt, nothing to renew');
  });

  it('signs up with the form and lands on the page it asked for; script cannot read the token', async () => {
    await page.fill('input[name=email]', 'browser@example.com');
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[value=register]');
    await page.waitForURL(`${app.url}/account`);
    assert.match((await page.textContent('#who')) ?? '', /Signed in as browser@example\.com/);
    assert.match((await page.textContent('#sessions')) ?? '', /\(this device\)/);
    const visible = await page.evaluate(() => document.cookie);
    assert.doesNotMatch(visible, /tessera_/, 'HttpOnly cookies only');
    const cookies = await context.cookies();
    const access = cookies.find((c) => c.name === 'tessera_access');
    assert.ok(access?.httpOnly && access.path === '/' && access.sameSite === 'Lax');
  });

  it('posts a form on its own page, and refuses the same form from another origin', async () => {
    await page.fill('input[name=note]', 'remember the milk');
    await Promise.all([page.waitForURL(`${app.url}/account`), page.click('form[action="/notes"] button')]);
    assert.match((await page.textContent('#notes')) ?? '', /remember the milk/);

    const other = await context.newPage();
    const refused = other.waitForResponse((r) => r.url() === `${app.url}/notes`);
    await other.goto(attackerUrl);
    const response = await refused;
    assert.equal(response.status(), 403);
    assert.equal((await response.json()).error, 'forbidden_origin');
    await other.close();
    await page.reload();
    assert.doesNotMatch((await page.textContent('#notes')) ?? '', /planted/);
  });

  it('renews an expired access cookie silently on the next navigation', async () => {
    refreshes.length = 0;
    // The browser drops the cookie when its Max-Age runs out; dropping it here is the same, without a wait.
    await context.clearCookies({ name: 'tessera_access' });
    await page.goto(`${app.url}/account`);
    await page.waitForURL(`${app.url}/account`);
    await page.waitForSelector('#who');
    assert.deepEqual(refreshes, [200]);
    assert.match((await page.textContent('#who')) ?? '', /browser@example\.com/);
    assert.ok((await context.cookies()).some((c) => c.name === 'tessera_access'));
  });

  it('logs out: both cookies go, and the page asks to sign in again', async () => {
    await Promise.all([page.waitForURL(`${app.url}/login`), page.click('#logout')]);
    const names = (await context.cookies()).map((c) => c.name);
    assert.ok(!names.includes('tessera_access') && !names.includes('tessera_refresh'), names.join());
    refreshes.length = 0;
    await page.goto(`${app.url}/account`);
    await page.waitForURL(`${app.url}/login?next=%2Faccount`);
    assert.deepEqual(refreshes, [400]);
  });
});
