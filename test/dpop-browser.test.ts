import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createTestDpopKey, signTestDpopProof } from '@tessera/core/testing';
import { authenticateRequest, createVerifier, type Verifier } from '@tessera/verify';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserSkip, launchChromium, startBrowserTestServer } from './helpers/browser.ts';
import { PASSWORD, type TestServer } from './helpers/server.ts';

// DPoP (RFC 9449) end to end in real Chromium: @tessera/client with `dpop: true` in a page, the
// standalone server binding the session, and a resource service that verifies with @tessera/verify.
// The attacker holds what an XSS or malware can copy (the access token, the refresh cookie) but not
// the key, which the browser will not export.

const skip = browserSkip();
let t: TestServer;
let browser: Browser;
let verifier: Verifier;
let resource: Server;
let resourceUrl: string;

interface PageClient {
  register(email: string, password: string): Promise<void>;
  resume(): Promise<boolean>;
  refresh(): Promise<boolean>;
  getAccessToken(): Promise<string | null>;
  fetch(input: string, init?: RequestInit): Promise<Response>;
}
type PageWindow = typeof window & { tessera: PageClient; createDpop: () => unknown };

/** A proof a page sent: the URL path, its alg, and its key's thumbprint (RFC 7638). */
interface SeenProof {
  path: string;
  alg: string;
  jkt: Promise<string>;
}

function watchProofs(context: BrowserContext): SeenProof[] {
  const seen: SeenProof[] = [];
  context.on('request', (request) => {
    const proof = request.headers().dpop;
    if (!proof) return;
    const header = decodeProtectedHeader(proof);
    seen.push({
      path: new URL(request.url()).pathname,
      alg: String(header.alg),
      jkt: calculateJwkThumbprint(header.jwk as JWK),
    });
  });
  return seen;
}

/** A page of the server's origin with the served client bundle loaded and a `dpop: true` client made. */
async function dpopPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`${t.url}/healthz`);
  await page.evaluate(async () => {
    const bundle = await import('/tessera-client.js' as string);
    const w = window as unknown as PageWindow;
    w.tessera = bundle.createTesseraClient({ baseUrl: '', dpop: true });
    w.createDpop = bundle.createDpop;
  });
  return page;
}

const status = (page: Page, url: string) =>
  page.evaluate(async (u) => (await (window as unknown as PageWindow).tessera.fetch(u)).status, url);
const accessToken = async (page: Page) =>
  (await page.evaluate(() => (window as unknown as PageWindow).tessera.getAccessToken())) as string;
const jktOf = (token: string) => (decodeJwt(token).cnf as { jkt?: string } | undefined)?.jkt;

describe('DPoP in Chromium: @tessera/client, the server and @tessera/verify', { skip }, () => {
  before(async () => {
    t = await startBrowserTestServer('60s');
    browser = await launchChromium();
    // A resource service of another origin, as an outside service would run it: keys and revocations
    // over HTTP from the issuer, DPoP proofs checked against the URL it is addressed by.
    verifier = createVerifier({ issuer: t.url, audience: t.url });
    await verifier.ready();
    resource = createServer(async (req, res) => {
      res.setHeader('access-control-allow-origin', t.url);
      res.setHeader('access-control-expose-headers', 'www-authenticate, dpop-nonce');
      if (req.method === 'OPTIONS') {
        res.setHeader('access-control-allow-headers', 'authorization, dpop');
        return void res.writeHead(204).end();
      }
      const outcome = await authenticateRequest(verifier, req);
      res.setHeader('content-type', 'application/json');
      if (outcome.refusal) {
        res.writeHead(outcome.refusal.status, outcome.refusal.headers);
        return void res.end(JSON.stringify(outcome.refusal.body));
      }
      res.end(JSON.stringify({ orders: [], jkt: jktOf(String(req.headers.authorization).slice(5)) }));
    });
    await new Promise<void>((resolve) => resource.listen(0, '127.0.0.1', resolve));
    resourceUrl = `http://127.0.0.1:${(resource.address() as { port: number }).port}/orders`;
  });
  after(async () => {
    resource?.closeAllConnections();
    resource?.close();
    await verifier?.close();
    await browser?.close();
    await t?.close();
  });

  it('keeps a key the page cannot export, binds the session to it, and uses the same key after a reload', async () => {
    const context = await browser.newContext({ bypassCSP: true });
    const proofs = watchProofs(context);
    try {
      const page = await dpopPage(context);
      await page.evaluate(
        (password) =>
          (window as unknown as PageWindow).tessera.register(`key${Date.now()}@example.com`, password),
        PASSWORD,
      );
      const stored = await page.evaluate(async () => {
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const open = indexedDB.open('tessera-dpop');
          open.onsuccess = () => resolve(open.result);
          open.onerror = () => reject(open.error);
        });
        const pair = await new Promise<CryptoKeyPair>((resolve) => {
          const read = db.transaction('keys').objectStore('keys').get('pair');
          read.onsuccess = () => resolve(read.result as CryptoKeyPair);
        });
        db.close();
        const outcome = (format: 'jwk' | 'pkcs8') =>
          crypto.subtle.exportKey(format, pair.privateKey).then(
            () => 'exported',
            (error: Error) => error.name,
          );
        return {
          extractable: pair.privateKey.extractable,
          algorithm: pair.privateKey.algorithm.name,
          jwk: await outcome('jwk'),
          pkcs8: await outcome('pkcs8'),
        };
      });
      assert.equal(stored.extractable, false);
      assert.deepEqual([stored.jwk, stored.pkcs8], ['InvalidAccessError', 'InvalidAccessError']);
      const token = await accessToken(page);
      const register = proofs.find((p) => p.path === '/auth/register');
      assert.ok(register, 'the registration carried a proof');
      assert.equal(register.alg, stored.algorithm === 'Ed25519' ? 'EdDSA' : 'ES256');
      assert.equal(jktOf(token), await register.jkt, 'the access token is bound to the page key');

      await page.reload();
      await page.evaluate(async () => {
        const bundle = await import('/tessera-client.js' as string);
        (window as unknown as PageWindow).tessera = bundle.createTesseraClient({ baseUrl: '', dpop: true });
      });
      assert.equal(await page.evaluate(() => (window as unknown as PageWindow).tessera.resume()), true);
      const refresh = proofs.filter((p) => p.path === '/auth/refresh').at(-1);
      assert.equal(await refresh?.jkt, await register.jkt, 'the same key after the reload');
      const resumed = await accessToken(page);
      assert.notEqual(resumed, token);
      assert.equal(jktOf(resumed), await register.jkt);
      assert.equal(await status(page, '/auth/me'), 200);
    } finally {
      await context.close();
    }
  });

  it('refuses the access token and refresh cookie copied out of the page, from Node and from another browser, while the page keeps working', async () => {
    const context = await browser.newContext({ bypassCSP: true });
    const thief = await browser.newContext({ bypassCSP: true });
    try {
      const page = await dpopPage(context);
      await page.evaluate(
        (password) =>
          (window as unknown as PageWindow).tessera.register(`stolen${Date.now()}@example.com`, password),
        PASSWORD,
      );
      assert.equal(
        await status(page, resourceUrl),
        200,
        'the resource service takes the page’s DPoP request',
      );
      const stolen = await accessToken(page);
      const cookie = (await context.cookies()).find((c) => c.name === 'tessera_refresh');
      assert.ok(cookie, 'the refresh cookie (what malware would copy)');

      // From Node, with the attacker's own key where a proof is needed.
      const key = await createTestDpopKey();
      const me = `${t.url}/auth/me`;
      const asBearer = await fetch(me, { headers: { authorization: `Bearer ${stolen}` } });
      assert.equal(asBearer.status, 401);
      const withOtherKey = await fetch(me, {
        headers: {
          authorization: `DPoP ${stolen}`,
          dpop: await signTestDpopProof(key, { htm: 'GET', htu: me, accessToken: stolen }),
        },
      });
      assert.equal(withOtherKey.status, 401);
      const atResource = await fetch(resourceUrl, { headers: { authorization: `Bearer ${stolen}` } });
      assert.equal(atResource.status, 401);
      assert.match(atResource.headers.get('www-authenticate') ?? '', /^DPoP .*error="invalid_token"/);
      const atResourceWithKey = await fetch(resourceUrl, {
        headers: {
          authorization: `DPoP ${stolen}`,
          dpop: await signTestDpopProof(key, { htm: 'GET', htu: resourceUrl, accessToken: stolen }),
        },
      });
      assert.equal(atResourceWithKey.status, 401);
      assert.equal(((await atResourceWithKey.json()) as { error: string }).error, 'invalid_dpop_proof');
      const refreshUrl = `${t.url}/auth/refresh`;
      for (const proof of [null, await signTestDpopProof(key, { htm: 'POST', htu: refreshUrl })]) {
        const refresh: Response = await fetch(refreshUrl, {
          method: 'POST',
          headers: {
            cookie: `${cookie.name}=${cookie.value}`,
            origin: t.url,
            'tessera-transport': 'cookie',
            'content-type': 'application/json',
            ...(proof ? { dpop: proof } : {}),
          },
          body: '{}',
        });
        assert.equal(refresh.status, 400);
        assert.equal(
          ((await refresh.json()) as { error: string }).error,
          'invalid_grant',
          `proof: ${!!proof}`,
        );
      }
      const oauth = await fetch(`${t.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cookie.value }).toString(),
      });
      assert.equal(oauth.status, 400);
      assert.equal(((await oauth.json()) as { error: string }).error, 'invalid_grant');

      // From another browser: the cookie planted in its jar, its own (different) key.
      await thief.addCookies([cookie]);
      const other = await dpopPage(thief);
      const mismatches = () => t.events.filter((e) => e.type === 'session.dpop_mismatch').length;
      const before = mismatches();
      assert.equal(await other.evaluate(() => (window as unknown as PageWindow).tessera.resume()), false);
      assert.equal(mismatches(), before + 1, 'the cookie reached the server, with a proof by the wrong key');
      const replayed = await other.evaluate(
        async ({ token, url }) => {
          const w = window as unknown as PageWindow;
          const bearer = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
          const dpop = w.createDpop() as {
            send(h: typeof fetch, u: string, i: RequestInit, t: string): Promise<Response>;
          };
          const proven = await dpop.send(fetch, url, {}, token);
          return [bearer.status, proven.status];
        },
        { token: stolen, url: '/auth/me' },
      );
      assert.deepEqual(replayed, [401, 401]);

      // The page, meanwhile, is untouched: its token works, it refreshes, the resource takes it.
      assert.equal(await status(page, '/auth/me'), 200);
      assert.equal(await page.evaluate(() => (window as unknown as PageWindow).tessera.refresh()), true);
      assert.equal(await status(page, '/auth/me'), 200);
      assert.equal(await status(page, resourceUrl), 200);
      assert.ok(
        t.events.some((e) => e.type === 'session.dpop_mismatch'),
        'the attempts were reported',
      );
      assert.ok(!t.events.some((e) => e.type === 'session.revoked' || e.type === 'session.reuse_detected'));
    } finally {
      await thief.close();
      await context.close();
    }
  });

  it('shares one key between tabs, even two tabs that make it at the same moment', async () => {
    const context = await browser.newContext({ bypassCSP: true });
    const proofs = watchProofs(context);
    try {
      const [a, b] = [await dpopPage(context), await dpopPage(context)];
      // Neither tab has a key yet: both make one and race to store it; both must end on the same one.
      await Promise.all(
        [a, b].map((page) =>
          page.evaluate(async () => {
            const dpop = (window as unknown as PageWindow).createDpop() as {
              send(h: typeof fetch, u: string, i: RequestInit): Promise<Response>;
            };
            await dpop.send(fetch, '/healthz', {});
          }),
        ),
      );
      const first = proofs.filter((p) => p.path === '/healthz');
      assert.equal(first.length, 2);
      const jkt = await first[0]?.jkt;
      assert.equal(jkt, await first[1]?.jkt, 'one key for both tabs');
      await a.evaluate(
        (password) =>
          (window as unknown as PageWindow).tessera.register(`tabs${Date.now()}@example.com`, password),
        PASSWORD,
      );
      // The second tab resumes the session the first started: only possible with the same key.
      assert.equal(await b.evaluate(() => (window as unknown as PageWindow).tessera.resume()), true);
      assert.equal(jktOf(await accessToken(b)), jkt);
      assert.equal(await status(b, resourceUrl), 200);
    } finally {
      await context.close();
    }
  });
});
