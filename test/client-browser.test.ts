import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserSkip, launchChromium, startBrowserTestServer } from './helpers/browser.ts';
import { freePort } from './helpers/child-server.ts';
import { PASSWORD, startTestServer, type TestServer } from './helpers/server.ts';

const skip = browserSkip();
let t: TestServer;
let browser: Browser;

/** Refresh requests the server has answered so far (from its own metrics). */
async function refreshRequests(server: TestServer = t): Promise<number> {
  const metric = await server.server.metrics.requests.get();
  return metric.values.filter((v) => v.labels.route === '/auth/refresh').reduce((sum, v) => sum + v.value, 0);
}

/**
 * A page of `server`'s origin with no app of its own (the health route), where a test imports the
 * client bundle the server serves. CSP is bypassed because the health route allows no script.
 */
async function barePage(
  server: TestServer,
  init?: () => void,
): Promise<{ page: Page; context: BrowserContext }> {
  const context = await browser.newContext({ bypassCSP: true });
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  await page.goto(`${server.url}/healthz`);
  return { page, context };
}

async function signedInPage(
  context: BrowserContext,
  email: string,
  register: boolean,
  server: TestServer = t,
): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${server.url}/`);
  await page.waitForSelector('#signed-out:not([hidden]), #signed-in:not([hidden])');
  if (await page.isVisible('#signed-out')) {
    const form = register ? '#register-form' : '#login-form';
    await page.fill(`${form} input[name=email]`, email);
    await page.fill(`${form} input[name=password]`, PASSWORD);
    await page.click(`${form} button`);
  }
  await page.waitForSelector('#signed-in:not([hidden])');
  return page;
}

describe('@tessera/client in Chromium', { skip }, () => {
  before(async () => {
    t = await startBrowserTestServer();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  it('keeps an active user signed in across several token lifetimes; no 401 reaches the app; no token in any body', async () => {
    const context = await browser.newContext();
    const bodies: string[] = [];
    context.on('response', async (response) => {
      if (response.url().includes('/auth/')) bodies.push(await response.text().catch(() => ''));
    });
    const page = await signedInPage(context, `active${Date.now()}@example.com`, true);
    const statuses = await page.evaluate(async () => {
      const { client } = (
        window as unknown as { tesseraDemo: { client: { fetch(p: string): Promise<Response> } } }
      ).tesseraDemo;
      const seen: number[] = [];
      const until = Date.now() + 8000;
      while (Date.now() < until) {
        seen.push((await client.fetch('/auth/me')).status);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      return seen;
    });
    assert.ok(statuses.length > 20);
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.ok((await page.locator('#renewals li').count()) >= 2);
    assert.ok(
      bodies.length > 0 && bodies.every((body) => !body.includes('tsr_')),
      'refresh token never in a body',
    );
    await context.close();
  });

  it('two tabs renewing at the same moment make one refresh request, raise no alarm, and both stay signed in', async () => {
    // Its own server with one-minute tokens, so no scheduled renewal can add a request to the count.
    const server = await startBrowserTestServer('60s');
    const context = await browser.newContext();
    try {
      const email = `tabs${Date.now()}@example.com`;
      const a = await signedInPage(context, email, true, server);
      const b = await signedInPage(context, email, false, server);
      const before = await refreshRequests(server);
      const refresh = (page: Page) =>
        page.evaluate(() =>
          (
            window as unknown as { tesseraDemo: { client: { refresh(): Promise<boolean> } } }
          ).tesseraDemo.client.refresh(),
        );
      const results = await Promise.all([refresh(a), refresh(b)]);
      assert.deepEqual(results, [true, true]);
      assert.equal((await refreshRequests(server)) - before, 1, 'one refresh request for both tabs');
      assert.ok(!server.events.some((e) => e.type === 'session.reuse_detected'));
      for (const page of [a, b]) {
        await page.click('#call-api');
        await page.waitForFunction(() =>
          document.querySelector('#api-result')?.textContent?.startsWith('200'),
        );
      }
      // Logging out in one tab signs the other out.
      await a.click('#logout');
      await b.waitForSelector('#signed-out:not([hidden])', { timeout: 5000 });
    } finally {
      await context.close();
      await server.close();
    }
  });

  it('a page on another origin cannot refresh or log out with the user’s cookie', async () => {
    const context = await browser.newContext();
    const page = await signedInPage(context, `csrf${Date.now()}@example.com`, true);
    const sessions = await page.evaluate(async () => {
      const { client } = (
        window as unknown as { tesseraDemo: { client: { fetch(p: string): Promise<Response> } } }
      ).tesseraDemo;
      return (await (await client.fetch('/auth/sessions')).json()) as { sessions: Array<{ id: string }> };
    });
    const sessionId = sessions.sessions[0]?.id ?? '';
    const before = await t.server.store.findSession(sessionId);
    const evil: Server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html');
      res.end('<!doctype html><title>evil</title>');
    });
    await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
    const evilPage = await context.newPage();
    await evilPage.goto(`http://localhost:${(evil.address() as { port: number }).port}/`);
    const outcomes = await evilPage.evaluate(async (target) => {
      const attempt = async (path: string, headers: Record<string, string>) => {
        try {
          const response = await fetch(`${target}${path}`, {
            method: 'POST',
            credentials: 'include',
            headers,
          });
          return String(response.status);
        } catch {
          return 'blocked';
        }
      };
      return [
        await attempt('/auth/refresh', { 'tessera-transport': 'cookie' }),
        await attempt('/auth/logout', { 'tessera-transport': 'cookie' }),
        await attempt('/auth/refresh', {}),
        await attempt('/auth/logout', { 'content-type': 'text/plain' }),
      ];
    }, t.url);
    for (const outcome of outcomes) assert.ok(outcome === 'blocked' || outcome === '403', `got ${outcome}`);
    const after = await t.server.store.findSession(sessionId);
    assert.equal(after?.revokedAtMs, null, 'still signed in');
    assert.equal(after?.generation, before?.generation, 'no rotation happened');
    evil.close();
    await context.close();
  });

  it('a tab that was offline past its token’s life recovers when the network returns', async () => {
    const context = await browser.newContext();
    const page = await signedInPage(context, `offline${Date.now()}@example.com`, true);
    await context.setOffline(true);
    await page.waitForTimeout(4000);
    await context.setOffline(false);
    const status = await page.evaluate(async () => {
      const { client } = (
        window as unknown as { tesseraDemo: { client: { fetch(p: string): Promise<Response> } } }
      ).tesseraDemo;
      return (await client.fetch('/auth/me')).status;
    });
    assert.equal(status, 200);
    assert.ok(await page.isVisible('#signed-in'));
    await context.close();
  });

  it('close() removes every listener, channel and timer the client added to the page', async () => {
    const { page, context } = await barePage(t, () => {
      // Counts what any script attaches to the page, before any script runs.
      const live = { listeners: 0, channels: 0, timers: new Set<number>() };
      (window as unknown as { __live: typeof live }).__live = live;
      const add = EventTarget.prototype.addEventListener;
      const remove = EventTarget.prototype.removeEventListener;
      EventTarget.prototype.addEventListener = function (...args: Parameters<typeof add>) {
        live.listeners += 1;
        return add.apply(this, args);
      };
      EventTarget.prototype.removeEventListener = function (...args: Parameters<typeof remove>) {
        live.listeners -= 1;
        return remove.apply(this, args);
      };
      const Channel = BroadcastChannel;
      window.BroadcastChannel = class extends Channel {
        constructor(name: string) {
          super(name);
          live.channels += 1;
        }
        override close() {
          live.channels -= 1;
          super.close();
        }
      };
      const set = window.setTimeout;
      const clear = window.clearTimeout;
      window.setTimeout = ((handler: () => void, ms?: number) => {
        const id: number = set(() => {
          live.timers.delete(id);
          handler();
        }, ms);
        live.timers.add(id);
        return id;
      }) as typeof window.setTimeout;
      window.clearTimeout = ((id?: number) => {
        if (id !== undefined) live.timers.delete(id);
        clear(id);
      }) as typeof window.clearTimeout;
    });
    try {
      const counts = await page.evaluate(async (password) => {
        type Live = { listeners: number; channels: number; timers: Set<number> };
        const live = (window as unknown as { __live: Live }).__live;
        const snapshot = () => ({
          listeners: live.listeners,
          channels: live.channels,
          timers: live.timers.size,
        });
        const { createTesseraClient } = await import('/tessera-client.js' as string);
        const before = snapshot();
        const client = createTesseraClient({ baseUrl: '' });
        await client.register(`close${Date.now()}@example.com`, password);
        const open = snapshot();
        client.close();
        return { before, open, after: snapshot() };
      }, PASSWORD);
      assert.ok(counts.open.listeners >= counts.before.listeners + 3, 'visibilitychange, online, focus');
      assert.equal(counts.open.channels, counts.before.channels + 1);
      assert.ok(counts.open.timers > counts.before.timers, 'a renewal timer while signed in');
      assert.deepEqual(counts.after, counts.before, 'everything it added is gone');
    } finally {
      await context.close();
    }
  });

  it('sliding-single-token: an active user stays signed in on the renewed tokens of ordinary responses', async () => {
    const port = await freePort();
    const server = await startTestServer(
      {
        TESSERA_POLICY: 'sliding-single-token',
        TESSERA_ACCESS_TTL: '3s',
        TESSERA_PORT: String(port),
        TESSERA_ISSUER: `http://127.0.0.1:${port}`,
      },
      { demo: true, realClock: true },
    );
    const { page, context } = await barePage(server);
    try {
      const seen = await page.evaluate(async (password) => {
        const { createTesseraClient } = await import('/tessera-client.js' as string);
        const client = createTesseraClient({ baseUrl: '', policy: 'sliding-single-token' });
        await client.register(`sliding${Date.now()}@example.com`, password);
        const statuses: number[] = [];
        const tokens = new Set<string>();
        const until = Date.now() + 8000;
        while (Date.now() < until) {
          statuses.push((await client.fetch('/auth/me')).status);
          tokens.add(await client.getAccessToken());
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
        client.close();
        return { statuses: [...new Set(statuses)], tokens: tokens.size, signedIn: client.state().signedIn };
      }, PASSWORD);
      assert.deepEqual(seen.statuses, [200], 'no 401 across almost three token lifetimes');
      assert.ok(seen.tokens >= 3, `${seen.tokens} tokens`);
      assert.ok(!server.events.some((e) => e.type === 'session.revoked'), 'the session was never ended');
    } finally {
      await context.close();
      await server.close();
    }
  });
});
