import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '@tessera/core';
import { start } from '../examples/ssr-app/server.ts';
import { CookieJar } from './helpers/cookie-jar.ts';
import { PASSWORD, TEST_ARGON2 } from './helpers/server.ts';

const ISSUER = 'http://127.0.0.1:3000';
const clock = createManualClock(Date.now());
const dir = mkdtempSync(join(tmpdir(), 'tessera-ssr-'));
let app: Awaited<ReturnType<typeof start>>;
before(async () => {
  app = await start(0, {
    dbPath: join(dir, 'app.db'),
    issuer: ISSUER,
    argon2: TEST_ARGON2,
    rateLimits: false,
    clock,
  });
});
after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What a browser on the app's page sends to Tessera's routes (the example's /ssr.js). */
const SCRIPT_HEADERS = {
  origin: ISSUER,
  'content-type': 'application/json',
  'tessera-transport': 'cookie',
  'tessera-access-cookie': '1',
};

/** A request as a browser would send it with `jar`, without following redirects; stores the cookies set. */
async function browse(
  jar: CookieJar,
  path: string,
  init: RequestInit & { headers?: Record<string, string> } = {},
) {
  const cookie = jar.header(path);
  const response = await fetch(`${app.url}${path}`, {
    redirect: 'manual',
    ...init,
    headers: { ...(cookie ? { cookie } : {}), ...init.headers },
  });
  const set = jar.take(response);
  const text = await response.text();
  return { response, set, text, json: () => JSON.parse(text) };
}

function postNote(jar: CookieJar, note: string, headers: Record<string, string>) {
  return browse(jar, '/notes', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ note }).toString(),
  });
}

describe('example: a server-rendered app on the access-token cookie', () => {
  const jar = new CookieJar();

  it('sends a visitor without a session through the silent-refresh page, which has nothing to renew', async () => {
    const account = await browse(jar, '/account');
    assert.equal(account.response.status, 303);
    assert.equal(account.response.headers.get('location'), '/refresh?next=%2Faccount');
    const refresh = await browse(jar, '/refresh?next=%2Faccount');
    assert.equal(refresh.response.status, 200);
    assert.match(refresh.text, /<p id="refresh" data-next="\/account">/);
    assert.match(refresh.response.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    // What the page's script then sends: no refresh cookie yet, so it goes on to /login.
    const renew = await browse(jar, '/api/auth/refresh', { method: 'POST', headers: SCRIPT_HEADERS });
    assert.equal(renew.response.status, 400);
    // Only paths on this site are ever returned to.
    for (const next of ['//evil.example/x', 'https://evil.example/', '/\\evil.example']) {
      const page = await browse(jar, `/login?next=${encodeURIComponent(next)}`);
      assert.match(page.text, /data-next="\/account"/, next);
    }
  });

  it('signs up: the access token arrives as an HttpOnly cookie for every path, never in the body', async () => {
    const reg = await browse(jar, '/api/auth/register', {
      method: 'POST',
      headers: SCRIPT_HEADERS,
      body: JSON.stringify({ email: 'page@example.com', password: PASSWORD }),
    });
    assert.equal(reg.response.status, 201, reg.text);
    const body = reg.json();
    assert.equal(body.access_token, undefined, 'page script never sees the access token');
    assert.equal(body.refresh_token, undefined);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(typeof body.expires_in, 'number');
    const access = reg.set.get('tessera_access');
    assert.ok(access, 'tessera_access is set');
    assert.deepEqual(
      { ...access.attributes },
      { 'max-age': String(body.expires_in), path: '/', httponly: true, secure: true, samesite: 'Lax' },
    );
    assert.equal(access.value.split('.').length, 3, 'a JWT');
    const refresh = reg.set.get('tessera_refresh');
    assert.equal(refresh?.attributes.path, '/api/auth');
    assert.equal(refresh?.attributes.samesite, 'Strict');

    const account = await browse(jar, '/account');
    assert.equal(account.response.status, 200);
    assert.match(account.text, /Signed in as <strong>page@example\.com<\/strong>/);
    assert.match(account.text, /\(this device\)/);
  });

  it('takes a form post from its own origin, and refuses one that cannot prove it (changing nothing)', async () => {
    const added = await postNote(jar, 'first note', { origin: ISSUER });
    assert.equal(added.response.status, 303);
    assert.equal(added.response.headers.get('location'), '/account');

    const noProof = await postNote(jar, 'forged', {});
    assert.equal(noProof.response.status, 403);
    assert.equal(noProof.json().error, 'csrf_header_required');
    const foreign = await postNote(jar, 'forged', { origin: 'https://evil.example' });
    assert.equal(foreign.response.status, 403);
    assert.equal(foreign.json().error, 'forbidden_origin');
    const nullOrigin = await postNote(jar, 'forged', { origin: 'null' });
    assert.equal(nullOrigin.response.status, 403);
    // A script on the page (fetch without an Origin, as an old browser might) proves itself with the header.
    const scripted = await postNote(jar, 'second note', { 'tessera-transport': 'cookie' });
    assert.equal(scripted.response.status, 303);

    const account = await browse(jar, '/account');
    assert.match(account.text, /<li>first note<\/li>\n<li>second note<\/li>/);
    assert.doesNotMatch(account.text, /forged/);
    // Escaped on the way out.
    await postNote(jar, '<script>alert(1)</script>', { origin: ISSUER });
    assert.match((await browse(jar, '/account')).text, /&#60;script&#62;alert\(1\)&#60;\/script&#62;/);
  });

  it('renews an expired access cookie from the refresh cookie on navigation (a silent refresh)', async () => {
    const before = jar.get('tessera_access');
    clock.advance(11 * 60_000); // past the 10-minute access token
    const expired = await browse(jar, '/account');
    assert.equal(expired.response.status, 303);
    assert.equal(expired.response.headers.get('location'), '/refresh?next=%2Faccount');
    // The refresh page's script: the refresh cookie (path /api/auth) buys a new access cookie.
    const renewed = await browse(jar, '/api/auth/refresh', { method: 'POST', headers: SCRIPT_HEADERS });
    assert.equal(renewed.response.status, 200, renewed.text);
    assert.equal(renewed.json().access_token, undefined);
    assert.ok(renewed.set.has('tessera_access') && renewed.set.has('tessera_refresh'));
    assert.notEqual(jar.get('tessera_access'), before);
    assert.equal((await browse(jar, '/account')).response.status, 200);
  });

  it('reads the Authorization header first, else the cookie', async () => {
    const viaCookie = await browse(jar, '/api/me');
    assert.equal(viaCookie.response.status, 200);
    const sub = viaCookie.json().sub;
    const badHeader = await browse(jar, '/api/me', { headers: { authorization: 'Bearer not-a-token' } });
    assert.equal(badHeader.response.status, 401, 'the header wins over a valid cookie');
    assert.match(badHeader.response.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const login = await fetch(`${app.url}/api/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'page@example.com', password: PASSWORD }),
    }).then((r) => r.json());
    const viaHeader = await fetch(`${app.url}/api/me`, {
      headers: { authorization: `Bearer ${login.access_token}` },
    });
    assert.equal(viaHeader.status, 200);
    assert.equal((await viaHeader.json()).sub, sub);
    assert.equal((await fetch(`${app.url}/api/me`)).status, 401);
  });

  it('refuses a bad Tessera-Access-Cookie, or one with body transport, before anything happens', async () => {
    const fresh = new CookieJar();
    for (const headers of [
      { ...SCRIPT_HEADERS, 'tessera-access-cookie': 'yes' },
      { 'content-type': 'application/json', 'tessera-access-cookie': '1' },
    ]) {
      const refused = await browse(fresh, '/api/auth/register', {
        method: 'POST',
        headers,
        body: JSON.stringify({ email: 'careful@example.com', password: PASSWORD }),
      });
      assert.equal(refused.response.status, 400);
      assert.equal(refused.json().error, 'invalid_request');
      assert.equal(refused.set.size, 0);
    }
    const ok = await browse(fresh, '/api/auth/register', {
      method: 'POST',
      headers: SCRIPT_HEADERS,
      body: JSON.stringify({ email: 'careful@example.com', password: PASSWORD }),
    });
    assert.equal(ok.response.status, 201, 'the refused requests created nothing');
  });

  it('logs out: the session ends, both cookies are cleared, and the old access token no longer opens a page', async () => {
    const oldAccess = jar.get('tessera_access') as string;
    const logout = await browse(jar, '/api/auth/logout', { method: 'POST', headers: SCRIPT_HEADERS });
    assert.equal(logout.response.status, 204);
    assert.equal(logout.set.get('tessera_access')?.attributes['max-age'], '0');
    assert.equal(logout.set.get('tessera_access')?.attributes.path, '/');
    assert.equal(logout.set.get('tessera_refresh')?.attributes['max-age'], '0');
    assert.equal(jar.has('tessera_access'), false);
    assert.equal((await browse(jar, '/account')).response.status, 303);
    const replay = await fetch(`${app.url}/account`, {
      redirect: 'manual',
      headers: { cookie: `tessera_access=${oldAccess}` },
    });
    assert.equal(replay.status, 303, 'a copied access cookie of an ended session opens nothing');
  });
});

describe('example: a server-rendered app on sliding-single-token', () => {
  const slidingClock = createManualClock(Date.now());
  let sliding: Awaited<ReturnType<typeof start>>;
  before(async () => {
    sliding = await start(0, {
      dbPath: join(dir, 'sliding.db'),
      issuer: ISSUER,
      argon2: TEST_ARGON2,
      rateLimits: false,
      clock: slidingClock,
      policy: 'sliding-single-token',
    });
  });
  after(() => sliding.close());

  it('renews the access cookie as pages are served, never in a header page script could read', async () => {
    const reg = await fetch(`${sliding.url}/api/auth/register`, {
      method: 'POST',
      headers: SCRIPT_HEADERS,
      body: JSON.stringify({ email: 'slide@example.com', password: PASSWORD }),
    });
    assert.equal(reg.status, 201);
    const jar = new CookieJar();
    jar.take(reg);
    const first = jar.get('tessera_access');
    const page = () =>
      fetch(`${sliding.url}/account`, { redirect: 'manual', headers: { cookie: jar.header('/account') } });
    const young = await page();
    assert.equal(young.status, 200);
    assert.equal(young.headers.getSetCookie().length, 0);
    slidingClock.advance(8 * 60_000); // past half of the 15-minute token
    const renewed = await page();
    assert.equal(renewed.status, 200);
    assert.equal(renewed.headers.get('tessera-access-token'), null);
    const set = jar.take(renewed).get('tessera_access');
    assert.ok(set && set.attributes.httponly === true && set.attributes.path === '/');
    assert.notEqual(jar.get('tessera_access'), first);
    slidingClock.advance(10 * 60_000); // the first token has expired; the renewed one has not
    assert.equal((await page()).status, 200);
  });
});
