import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ALLOWED_ORIGIN, call, PASSWORD, startTestServer, type TestServer } from './helpers/server.ts';

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serverWith(env: Record<string, string>): Promise<TestServer> {
  const t = await startTestServer({
    TESSERA_REFRESH_IDLE_TTL: '1h',
    TESSERA_REFRESH_ABSOLUTE_TTL: '4h',
    ...env,
  });
  servers.push(t);
  return t;
}

async function register(t: TestServer, headers: Record<string, string> = {}) {
  const email = `p${Math.random().toString(36).slice(2)}@example.com`;
  const response = await call(t.url, 'POST', '/auth/register', {
    json: { email, password: PASSWORD },
    headers,
  });
  assert.equal(response.status, 201, response.text);
  return { email, ...response };
}

function cookieOf(headers: Headers, name: string): string {
  const match = new RegExp(`${name}=([^;]*)`).exec(headers.getSetCookie().join('\n'));
  assert.ok(match, `${name} cookie set`);
  return match[1] ?? '';
}

describe('policy: sliding-single-token', () => {
  it('re-issues the token past half its life, within the session limits; logout and revocation end it', async () => {
    const t = await serverWith({ TESSERA_POLICY: 'sliding-single-token', TESSERA_ACCESS_TTL: '10m' });
    const reg = await register(t);
    assert.equal(reg.body.refresh_token, undefined);
    assert.equal(reg.body.expires_in, 600);
    let token = reg.body.access_token as string;

    const young = await call(t.url, 'GET', '/auth/me', { token });
    assert.equal(young.headers.get('tessera-access-token'), null);
    t.clock.advance(300_000);
    const half = await call(t.url, 'GET', '/auth/me', { token });
    assert.equal(half.status, 200);
    const renewed = half.headers.get('tessera-access-token');
    assert.ok(renewed);
    assert.equal(half.headers.get('tessera-access-token-expires-in'), '600');
    token = renewed;

    // Active use keeps the user signed in across many token lifetimes…
    for (let i = 0; i < 8; i += 1) {
      t.clock.advance(400_000);
      const response = await call(t.url, 'GET', '/auth/sessions', { token });
      assert.equal(response.status, 200);
      token = response.headers.get('tessera-access-token') ?? token;
    }
    // …but an expired token is refused, never renewed.
    t.clock.advance(601_000 + 2_000);
    const expired = await call(t.url, 'GET', '/auth/me', { token });
    assert.equal(expired.status, 401);
    assert.equal(expired.headers.get('tessera-access-token'), null);

    // Logout ends the session: its token stops working and is not renewed.
    const second = await register(t);
    t.clock.advance(300_000);
    assert.equal(
      (await call(t.url, 'POST', '/auth/logout', { token: second.body.access_token })).status,
      204,
    );
    const after = await call(t.url, 'GET', '/auth/me', { token: second.body.access_token });
    assert.equal(after.status, 401);
  });

  it('stops renewing at the absolute session lifetime', async () => {
    const t = await serverWith({ TESSERA_POLICY: 'sliding-single-token', TESSERA_ACCESS_TTL: '10m' });
    let token = (await register(t)).body.access_token as string;
    let lastRenewal = 0;
    for (let minute = 5; minute <= 4 * 60 + 20; minute += 5) {
      t.clock.advance(300_000);
      const response = await call(t.url, 'GET', '/auth/me', { token });
      if (response.status !== 200) break;
      const next = response.headers.get('tessera-access-token');
      if (next) {
        token = next;
        lastRenewal = minute;
      }
    }
    // The session ends at 4 h: the last renewal happened before it.
    assert.ok(lastRenewal < 240 && lastRenewal >= 230, `last renewal at ${lastRenewal} min`);
  });
});

describe('policy: soft-expiry', () => {
  it('refuses a soft-expired token on bearer routes and renews it once at /auth/renew', async () => {
    const t = await serverWith({
      TESSERA_POLICY: 'soft-expiry',
      TESSERA_ACCESS_TTL: '1h',
      TESSERA_SOFT_TTL: '10m',
    });
    const reg = await register(t);
    assert.equal(reg.body.soft_expires_in, 600);
    const token = reg.body.access_token as string;
    const early = await call(t.url, 'POST', '/auth/renew', { token });
    assert.equal(early.status, 400);
    assert.equal(early.body.error, 'invalid_request');

    t.clock.advance(600_000);
    const soft = await call(t.url, 'GET', '/auth/me', { token });
    assert.equal(soft.status, 401);
    assert.match(
      soft.headers.get('www-authenticate') ?? '',
      /error="invalid_token", error_description="token_soft_expired"/,
    );

    const renewed = await call(t.url, 'POST', '/auth/renew', { token });
    assert.equal(renewed.status, 200, renewed.text);
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: renewed.body.access_token })).status, 200);
    // Renewing the same token again is a replay: the session ends.
    const replay = await call(t.url, 'POST', '/auth/renew', { token });
    assert.equal(replay.body.error, 'invalid_grant');
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: renewed.body.access_token })).status, 401);
    assert.ok(t.events.some((e) => e.type === 'session.reuse_detected'));
  });

  it('refuses a hard-expired token and a token of an ended session', async () => {
    const t = await serverWith({
      TESSERA_POLICY: 'soft-expiry',
      TESSERA_ACCESS_TTL: '1h',
      TESSERA_SOFT_TTL: '10m',
    });
    const a = await register(t);
    t.clock.advance(3_603_000);
    const hard = await call(t.url, 'POST', '/auth/renew', { token: a.body.access_token });
    assert.equal(hard.status, 401);
    const b = await register(t);
    const other = await call(t.url, 'POST', '/auth/login', { json: { email: b.email, password: PASSWORD } });
    await call(t.url, 'DELETE', `/auth/sessions/${b.body.session_id}`, { token: other.body.access_token });
    t.clock.advance(600_000);
    const ended = await call(t.url, 'POST', '/auth/renew', { token: b.body.access_token });
    assert.equal(ended.status, 401);
  });
});

describe('policy: expired-token-exchange', () => {
  const browser = { origin: ALLOWED_ORIGIN, 'tessera-transport': 'cookie' };

  it('exchanges an expired token with the session cookie, once, and never an unexpired one', async () => {
    const t = await serverWith({ TESSERA_POLICY: 'expired-token-exchange', TESSERA_ACCESS_TTL: '5m' });
    const reg = await register(t, { origin: ALLOWED_ORIGIN });
    assert.equal(reg.body.refresh_token, undefined);
    const session = `tessera_session=${cookieOf(reg.headers, 'tessera_session')}`;
    const token = reg.body.access_token as string;

    const fresh = await call(t.url, 'POST', '/auth/refresh', {
      token,
      headers: { ...browser, cookie: session },
    });
    assert.equal(fresh.status, 400);
    assert.equal(fresh.body.error, 'invalid_grant');

    t.clock.advance(305_000);
    const noCookie = await call(t.url, 'POST', '/auth/refresh', { token, headers: browser });
    assert.equal(noCookie.body.error, 'invalid_request');
    const exchanged = await call(t.url, 'POST', '/auth/refresh', {
      token,
      headers: { ...browser, cookie: session },
    });
    assert.equal(exchanged.status, 200, exchanged.text);
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: exchanged.body.access_token })).status, 200);

    const replay = await call(t.url, 'POST', '/auth/refresh', {
      token,
      headers: { ...browser, cookie: session },
    });
    assert.equal(replay.body.error, 'invalid_grant');
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: exchanged.body.access_token })).status, 401);
  });

  it('refuses another session’s cookie and logs out with the cookie', async () => {
    const t = await serverWith({ TESSERA_POLICY: 'expired-token-exchange', TESSERA_ACCESS_TTL: '5m' });
    const a = await register(t, { origin: ALLOWED_ORIGIN });
    const b = await register(t, { origin: ALLOWED_ORIGIN });
    const bCookie = `tessera_session=${cookieOf(b.headers, 'tessera_session')}`;
    t.clock.advance(305_000);
    const mixed = await call(t.url, 'POST', '/auth/refresh', {
      token: a.body.access_token,
      headers: { ...browser, cookie: bCookie },
    });
    assert.equal(mixed.body.error, 'invalid_grant');
    const out = await call(t.url, 'POST', '/auth/logout', { headers: { ...browser, cookie: bCookie } });
    assert.equal(out.status, 204);
    const after = await call(t.url, 'POST', '/auth/refresh', {
      token: b.body.access_token,
      headers: { ...browser, cookie: bCookie },
    });
    assert.equal(after.status, 400);
  });
});

describe('policy: long-lived-token', () => {
  it('issues one token of days that revocation and version bumps still end', async () => {
    const t = await serverWith({
      TESSERA_POLICY: 'long-lived-token',
      TESSERA_REFRESH_ABSOLUTE_TTL: '30d',
      TESSERA_REFRESH_IDLE_TTL: '30d',
    });
    const reg = await register(t);
    assert.equal(reg.body.expires_in, 7 * 86_400);
    assert.equal(reg.body.refresh_token, undefined);
    t.clock.advance(6 * 86_400_000);
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: reg.body.access_token })).status, 200);
    const other = await call(t.url, 'POST', '/auth/login', {
      json: { email: reg.email, password: PASSWORD },
    });
    const changed = await call(t.url, 'POST', '/auth/password', {
      token: other.body.access_token,
      json: { current_password: PASSWORD, new_password: 'a new long passphrase' },
    });
    assert.equal(changed.status, 200);
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: reg.body.access_token })).status, 401);
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: changed.body.access_token })).status, 200);
  });
});

describe('switches every policy honours', () => {
  for (const policy of ['rotating-refresh', 'soft-expiry'] as const) {
    it(`${policy}: a maximum login age ends renewal whatever the activity`, async () => {
      const t = await serverWith({
        TESSERA_POLICY: policy,
        TESSERA_MAX_LOGIN_AGE: '2h',
        TESSERA_ACCESS_TTL: '1h',
        TESSERA_SOFT_TTL: '10m',
      });
      const reg = await register(t);
      let access = reg.body.access_token as string;
      let refresh = reg.body.refresh_token as string | undefined;
      const renew = async () =>
        policy === 'rotating-refresh'
          ? call(t.url, 'POST', '/auth/refresh', { json: { refresh_token: refresh } })
          : call(t.url, 'POST', '/auth/renew', { token: access });
      for (let i = 0; i < 11; i += 1) {
        t.clock.advance(600_000);
        const r = await renew();
        assert.equal(r.status, 200, `renewal ${i}: ${r.text}`);
        access = r.body.access_token;
        refresh = r.body.refresh_token;
      }
      t.clock.advance(600_000);
      assert.equal((await renew()).body.error, 'invalid_grant');
    });
  }

  it('TESSERA_END_SESSIONS_ON_PASSWORD_CHANGE=false keeps the other sessions', async () => {
    const t = await serverWith({ TESSERA_END_SESSIONS_ON_PASSWORD_CHANGE: 'false' });
    const reg = await register(t);
    const other = await call(t.url, 'POST', '/auth/login', {
      json: { email: reg.email, password: PASSWORD },
    });
    await call(t.url, 'POST', '/auth/password', {
      token: reg.body.access_token,
      json: { current_password: PASSWORD, new_password: 'a new long passphrase' },
    });
    const refreshed = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: other.body.refresh_token },
    });
    assert.equal(refreshed.status, 200);
  });
});
