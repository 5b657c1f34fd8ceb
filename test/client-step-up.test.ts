import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createTesseraClient, type StepUpRequired, TesseraClientError } from '@tessera/client';
import { authenticateRequest, createVerifier, type Verifier } from '@tessera/verify';
import type { Browser } from 'playwright-core';
import { browserSkip, launchChromium } from './helpers/browser.ts';
import { freePort } from './helpers/child-server.ts';
import { PASSWORD, startTestServer, type TestServer } from './helpers/server.ts';

// The client's stepUpRequired event and reauthenticate() against a real server and a real resource
// service (the @tessera/verify web core), with the server's manual clock: no sleeping.

let t: TestServer;
let verifier: Verifier;
let api: Server;
let apiUrl: string;

before(async () => {
  const port = await freePort();
  t = await startTestServer(
    { TESSERA_REAUTH_MAX_AGE: '5m', TESSERA_PORT: String(port), TESSERA_ISSUER: `http://127.0.0.1:${port}` },
    { demo: true },
  );
  verifier = createVerifier({
    issuer: t.server.engine.settings.issuer,
    audience: t.server.engine.settings.issuer,
    jwksUrl: `${t.url}/.well-known/jwks.json`,
    feed: false,
    now: () => t.clock.now(),
  });
  await verifier.ready();
  // A resource service whose /payouts needs a two-factor authentication (acr 2) within 5 minutes.
  api = createServer((req, res) => {
    authenticateRequest(verifier, req, { maxAge: 300, acr: '2' }).then(({ claims, refusal }) => {
      res.writeHead(refusal ? refusal.status : 200, {
        'content-type': 'application/json',
        ...refusal?.headers,
      });
      res.end(JSON.stringify(refusal ? refusal.body : { ok: true, sub: claims.sub }));
    });
  });
  await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
  apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
});
after(async () => {
  await new Promise((resolve) => api.close(resolve));
  await verifier.close();
  await t.close();
});

function newClient() {
  const client = createTesseraClient({ baseUrl: t.url, transport: 'body', now: () => t.clock.now() });
  const stepUps: StepUpRequired[] = [];
  const renewals: number[] = [];
  client.on('stepUpRequired', (payload) => stepUps.push(payload));
  client.on('tokenRenewed', ({ expiresIn }) => renewals.push(expiresIn));
  return { client, stepUps, renewals };
}

const json = { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' };

describe('@tessera/client step-up in Node', () => {
  it('emits stepUpRequired for Tessera’s own sensitive route, and the same call passes after reauthenticate()', async () => {
    const { client, stepUps, renewals } = newClient();
    await client.register(`stepup${Date.now()}@example.com`, PASSWORD);
    assert.equal((await client.fetch(`${t.url}/auth/mfa/totp/enroll`, json)).status, 200, 'fresh sign-in');
    t.clock.advance(301_000);
    const refused = await client.fetch(`${t.url}/auth/mfa/totp/enroll`, json);
    assert.equal(refused.status, 401, 'the response goes back to the app as it is');
    assert.equal((await refused.json()).error, 'insufficient_user_authentication');
    assert.deepEqual(stepUps, [{ maxAge: 300, acr: null }]);
    assert.equal(client.state().signedIn, true, 'a step-up is not the end of the session');

    await assert.rejects(client.reauthenticate({ password: 'not the password' }), (error: unknown) => {
      assert.ok(error instanceof TesseraClientError);
      assert.equal(error.code, 'invalid_credentials');
      assert.equal(error.status, 401);
      return true;
    });
    assert.equal(renewals.length, 0, 'a refused re-authentication keeps the token');
    await client.reauthenticate({ password: PASSWORD });
    assert.equal(renewals.length, 1);
    assert.equal((await client.fetch(`${t.url}/auth/mfa/totp/enroll`, json)).status, 200);
    assert.equal(stepUps.length, 1);
    client.close();
  });

  it('emits the acr a resource service asks for, and no event for other 401s', async () => {
    const { client, stepUps } = newClient();
    await client.register(`acr${Date.now()}@example.com`, PASSWORD);
    const weak = await client.fetch(`${apiUrl}/payouts`);
    assert.equal(weak.status, 401);
    assert.deepEqual(stepUps, [{ maxAge: 300, acr: '2' }]);
    assert.equal((await client.fetch(`${t.url}/auth/me`)).status, 200);
    await client.logoutAll();
    const none = await client.fetch(`${apiUrl}/payouts`);
    assert.equal(none.status, 401, 'no token at all');
    assert.equal(stepUps.length, 1, 'a bare challenge is not a step-up');
    client.close();
  });
});

const skip = browserSkip();

describe('@tessera/client step-up in Chromium', { skip }, () => {
  let browser: Browser;
  before(async () => {
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
  });

  it('a page hears stepUpRequired (header read in the browser), re-authenticates, and the call passes', async () => {
    const context = await browser.newContext({ bypassCSP: true });
    try {
      const page = await context.newPage();
      await page.goto(`${t.url}/healthz`);
      await page.evaluate(async (password) => {
        const { createTesseraClient } = await import('/tessera-client.js' as string);
        const client = createTesseraClient({ baseUrl: '' });
        const events: unknown[] = [];
        client.on('stepUpRequired', (payload: unknown) => events.push(payload));
        await client.register(`browser${Date.now()}@example.com`, password);
        Object.assign(window, { client, events });
      }, PASSWORD);
      t.clock.advance(301_000);
      const outcome = await page.evaluate(async (password) => {
        const { client, events } = window as unknown as {
          client: {
            fetch(path: string, init: RequestInit): Promise<Response>;
            reauthenticate(credentials: Record<string, string>): Promise<void>;
          };
          events: unknown[];
        };
        const call = () =>
          client.fetch('/auth/mfa/totp/enroll', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          });
        const first = (await call()).status;
        const heard = [...events];
        await client.reauthenticate({ password });
        return { first, heard, second: (await call()).status };
      }, PASSWORD);
      assert.deepEqual(outcome, { first: 401, heard: [{ maxAge: 300, acr: null }], second: 200 });
    } finally {
      await context.close();
    }
  });
});
