import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ALLOWED_ORIGIN,
  call,
  PASSWORD,
  registerUser,
  startTestServer,
  type TestServer,
} from './helpers/server.ts';

let t: TestServer;
before(async () => {
  t = await startTestServer({ TESSERA_REUSE_GRACE: '10s' });
});
after(async () => {
  await t.close();
});

function setCookie(headers: Headers): string {
  return headers.getSetCookie().join('\n');
}

function cookieValue(headers: Headers): string {
  const match = /tessera_refresh=([^;]*)/.exec(setCookie(headers));
  assert.ok(match, 'a refresh cookie is set');
  return match[1] ?? '';
}

describe('body transport (native apps, CLIs)', () => {
  it('registers, refreshes, reads the profile and logs out', async () => {
    const email = `ada${Date.now()}@example.com`;
    const reg = await call(t.url, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
    assert.equal(reg.status, 201);
    assert.equal(reg.headers.get('cache-control'), 'no-store');
    assert.deepEqual(Object.keys(reg.body).sort(), [
      'access_token',
      'expires_in',
      'refresh_token',
      'session_id',
      'token_type',
    ]);
    assert.equal(reg.body.token_type, 'Bearer');
    assert.equal(reg.body.expires_in, 600);
    assert.match(reg.body.refresh_token, /^tsr_/);
    assert.equal(setCookie(reg.headers), '');

    const login = await call(t.url, 'POST', '/auth/login', {
      json: { email: email.toUpperCase(), password: PASSWORD },
    });
    assert.equal(login.status, 200);
    assert.notEqual(login.body.session_id, reg.body.session_id);

    const refreshed = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: reg.body.refresh_token },
    });
    assert.equal(refreshed.status, 200);
    assert.notEqual(refreshed.body.refresh_token, reg.body.refresh_token);

    const me = await call(t.url, 'GET', '/auth/me', { token: refreshed.body.access_token });
    assert.equal(me.status, 200);
    assert.equal(me.body.email, email);

    const out = await call(t.url, 'POST', '/auth/logout', {
      json: { refresh_token: refreshed.body.refresh_token },
    });
    assert.equal(out.status, 204);
    const dead = await call(t.url, 'GET', '/auth/me', { token: refreshed.body.access_token });
    assert.equal(dead.status, 401);
    assert.match(dead.headers.get('www-authenticate') ?? '', /^Bearer .*error="invalid_token"/);
    const again = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: refreshed.body.refresh_token },
    });
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_grant');
    assert.equal(again.body.session_ended, 'revoked');
  });

  it('answers a wrong password and an unknown email alike, and a taken email with 409', async () => {
    const user = await registerUser(t.url);
    const wrong = await call(t.url, 'POST', '/auth/login', {
      json: { email: user.email, password: 'not the password' },
    });
    const unknown = await call(t.url, 'POST', '/auth/login', {
      json: { email: 'nobody@example.com', password: 'not the password' },
    });
    assert.equal(wrong.status, 401);
    assert.deepEqual(wrong.body, unknown.body);
    assert.equal(wrong.body.error, 'invalid_credentials');
    const taken = await call(t.url, 'POST', '/auth/register', {
      json: { email: user.email, password: PASSWORD },
    });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error, 'email_taken');
  });

  it('logs out with the access token alone (its sid)', async () => {
    const user = await registerUser(t.url);
    const out = await call(t.url, 'POST', '/auth/logout', { token: user.access_token });
    assert.equal(out.status, 204);
    const refresh = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: user.refresh_token },
    });
    assert.equal(refresh.body.error, 'invalid_grant');
  });
});

describe('cookie transport (browsers)', () => {
  const browser = { origin: ALLOWED_ORIGIN, 'tessera-transport': 'cookie' };

  it('sets an HttpOnly, Secure, SameSite=Strict cookie scoped to /auth and keeps the token out of the body', async () => {
    const email = `c${Date.now()}@example.com`;
    const reg = await call(t.url, 'POST', '/auth/register', {
      json: { email, password: PASSWORD },
      headers: { origin: ALLOWED_ORIGIN },
    });
    assert.equal(reg.status, 201);
    assert.equal(reg.body.refresh_token, undefined);
    assert.ok(!reg.text.includes('tsr_'));
    const cookie = setCookie(reg.headers);
    assert.match(cookie, /^tessera_refresh=tsr_[A-Za-z0-9_-]+;/);
    for (const attribute of [
      /; Path=\/auth(;|$)/,
      /; HttpOnly/,
      /; Secure/,
      /; SameSite=Strict/,
      /; Max-Age=1209600/,
    ]) {
      assert.match(cookie, attribute);
    }
    assert.equal(reg.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    assert.equal(reg.headers.get('access-control-allow-credentials'), 'true');

    const token = cookieValue(reg.headers);
    const refreshed = await call(t.url, 'POST', '/auth/refresh', {
      headers: { ...browser, cookie: `tessera_refresh=${token}` },
    });
    assert.equal(refreshed.status, 200);
    assert.equal(refreshed.body.refresh_token, undefined);
    const next = cookieValue(refreshed.headers);
    assert.notEqual(next, token);

    const out = await call(t.url, 'POST', '/auth/logout', {
      headers: { ...browser, cookie: `tessera_refresh=${next}` },
    });
    assert.equal(out.status, 204);
    assert.match(setCookie(out.headers), /tessera_refresh=;.*Max-Age=0/);
    const after = await call(t.url, 'POST', '/auth/refresh', {
      headers: { ...browser, cookie: `tessera_refresh=${next}` },
    });
    assert.equal(after.body.error, 'invalid_grant');
  });

  it('refuses cookie use without the transport header, from another origin, or with no origin (CSRF)', async () => {
    const reg = await call(t.url, 'POST', '/auth/register', {
      json: { email: `x${Date.now()}@example.com`, password: PASSWORD },
      headers: { origin: ALLOWED_ORIGIN },
    });
    const cookie = `tessera_refresh=${cookieValue(reg.headers)}`;
    const attempts: Array<[Record<string, string>, number, string]> = [
      [{ origin: ALLOWED_ORIGIN, cookie }, 403, 'csrf_header_required'],
      [{ origin: 'https://evil.example', 'tessera-transport': 'cookie', cookie }, 403, 'forbidden_origin'],
      [{ 'tessera-transport': 'cookie', cookie }, 403, 'forbidden_origin'],
      [{ origin: 'null', 'tessera-transport': 'cookie', cookie }, 403, 'forbidden_origin'],
    ];
    for (const path of ['/auth/refresh', '/auth/logout']) {
      for (const [headers, status, error] of attempts) {
        const response = await call(t.url, 'POST', path, { headers });
        assert.equal(response.status, status, `${path} ${JSON.stringify(headers)}`);
        assert.equal(response.body.error, error);
        assert.equal(
          response.headers.get('access-control-allow-origin'),
          headers.origin === ALLOWED_ORIGIN ? ALLOWED_ORIGIN : null,
        );
      }
    }
    // Nothing changed: the cookie still refreshes.
    const ok = await call(t.url, 'POST', '/auth/refresh', { headers: { ...browser, cookie } });
    assert.equal(ok.status, 200);
    const evilLogin = await call(t.url, 'POST', '/auth/login', {
      json: { email: 'a@example.com', password: PASSWORD },
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(evilLogin.status, 403);
  });

  it('answers CORS preflight for allowed origins only', async () => {
    const ok = await fetch(`${t.url}/auth/refresh`, {
      method: 'OPTIONS',
      headers: {
        origin: ALLOWED_ORIGIN,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'tessera-transport',
      },
    });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    assert.match(ok.headers.get('access-control-allow-headers') ?? '', /tessera-transport/i);
    const evil = await fetch(`${t.url}/auth/refresh`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example' },
    });
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
  });
});

describe('rotation and reuse over HTTP', () => {
  it('serves 50 concurrent refreshes of one token with one successor and no alarm', async () => {
    const user = await registerUser(t.url);
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        call(t.url, 'POST', '/auth/refresh', { json: { refresh_token: user.refresh_token } }),
      ),
    );
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
    assert.equal(new Set(results.map((r) => r.body.refresh_token)).size, 1);
    const session = await t.server.store.findSession(user.session_id);
    assert.equal(session?.generation, 2);
    assert.ok(!t.events.some((e) => e.type === 'session.reuse_detected' && e.sessionId === user.session_id));
  });

  it('revokes the session on reuse after the grace window; its access tokens fail at once', async () => {
    const user = await registerUser(t.url);
    const next = await call(t.url, 'POST', '/auth/refresh', { json: { refresh_token: user.refresh_token } });
    t.clock.advance(10_001);
    const reuse = await call(t.url, 'POST', '/auth/refresh', { json: { refresh_token: user.refresh_token } });
    assert.equal(reuse.status, 400);
    assert.equal(reuse.body.error, 'invalid_grant');
    assert.equal(reuse.body.session_ended, 'reuse_detected');
    const after = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: next.body.refresh_token },
    });
    assert.equal(after.body.session_ended, 'reuse_detected');
    assert.ok(t.events.some((e) => e.type === 'session.reuse_detected' && e.sessionId === user.session_id));
    for (const token of [user.access_token, next.body.access_token]) {
      const me = await call(t.url, 'GET', '/auth/sessions', { token });
      assert.equal(me.status, 401);
    }
  });
});

describe('OAuth endpoints', () => {
  it('refreshes at /oauth/token with form and JSON bodies (RFC 6749 §6) and reports errors per §5.2', async () => {
    const user = await registerUser(t.url);
    const form = await call(t.url, 'POST', '/oauth/token', {
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: user.refresh_token,
        client_id: 'any',
      }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(form.status, 200);
    assert.equal(form.headers.get('cache-control'), 'no-store');
    assert.equal(form.headers.get('pragma'), 'no-cache');
    assert.match(form.body.refresh_token, /^tsr_/);
    const asJson = await call(t.url, 'POST', '/oauth/token', {
      json: { grant_type: 'refresh_token', refresh_token: form.body.refresh_token },
    });
    assert.equal(asJson.status, 200);
    const errors: Array<[Record<string, string>, string]> = [
      [{ grant_type: 'password', username: 'a', password: 'b' }, 'unsupported_grant_type'],
      [{ grant_type: 'refresh_token' }, 'invalid_request'],
      [{ refresh_token: asJson.body.refresh_token }, 'invalid_request'],
      [{ grant_type: 'refresh_token', refresh_token: 'tsr_forged' }, 'invalid_grant'],
    ];
    for (const [params, error] of errors) {
      const response = await call(t.url, 'POST', '/oauth/token', {
        body: new URLSearchParams(params).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(response.status, 400, JSON.stringify(params));
      assert.equal(response.body.error, error);
      assert.equal(typeof response.body.error_description, 'string');
    }
    const repeated = await call(t.url, 'POST', '/oauth/token', {
      body: 'grant_type=refresh_token&grant_type=refresh_token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(repeated.body.error, 'invalid_request');
  });

  it('publishes RFC 8414 metadata and the JWKS', async () => {
    const meta = await call(t.url, 'GET', '/.well-known/oauth-authorization-server');
    assert.equal(meta.status, 200);
    assert.equal(meta.body.issuer, 'http://127.0.0.1:4000');
    assert.equal(meta.body.token_endpoint, 'http://127.0.0.1:4000/oauth/token');
    assert.equal(meta.body.jwks_uri, 'http://127.0.0.1:4000/.well-known/jwks.json');
    assert.deepEqual(meta.body.grant_types_supported, ['refresh_token']);
    assert.deepEqual(meta.body.response_types_supported, []);
    const jwks = await call(t.url, 'GET', '/.well-known/jwks.json');
    assert.equal(jwks.status, 200);
    assert.equal(jwks.body.keys[0].alg, 'EdDSA');
    assert.equal(jwks.body.keys[0].d, undefined);
  });

  it('introspects for loopback callers (RFC 7662) and revokes (RFC 7009)', async () => {
    const user = await registerUser(t.url);
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const active = await call(t.url, 'POST', '/oauth/introspect', {
      body: `token=${user.access_token}`,
      headers: form,
    });
    assert.equal(active.status, 200);
    assert.equal(active.body.active, true);
    assert.equal(active.body.sid, user.session_id);
    const revoke = await call(t.url, 'POST', '/oauth/revoke', {
      body: `token=${user.refresh_token}&token_type_hint=refresh_token`,
      headers: form,
    });
    assert.equal(revoke.status, 200);
    const unknown = await call(t.url, 'POST', '/oauth/revoke', { body: 'token=nonsense', headers: form });
    assert.equal(unknown.status, 200);
    const inactive = await call(t.url, 'POST', '/oauth/introspect', {
      body: `token=${user.access_token}`,
      headers: form,
    });
    assert.deepEqual(inactive.body, { active: false });
  });
});

describe('account routes', () => {
  it('lists devices, ends one, and logs out everywhere', async () => {
    const user = await registerUser(t.url);
    const phone = await call(t.url, 'POST', '/auth/login', {
      json: { email: user.email, password: PASSWORD, device_name: 'Phone' },
      headers: { 'user-agent': 'curl/8.0' },
    });
    const list = await call(t.url, 'GET', '/auth/sessions', { token: user.access_token });
    assert.equal(list.status, 200);
    assert.equal(list.body.sessions.length, 2);
    const mine = list.body.sessions.find((s: { current: boolean }) => s.current);
    assert.deepEqual(Object.keys(mine).sort(), [
      'created_at',
      'current',
      'device_name',
      'id',
      'ip',
      'last_seen_at',
      'user_agent',
    ]);
    assert.equal(mine.id, user.session_id);
    assert.match(mine.created_at, /^\d{4}-\d\d-\d\dT/);
    assert.equal(mine.ip, '127.0.0.1');
    const other = list.body.sessions.find((s: { current: boolean }) => !s.current);
    assert.equal(other.device_name, 'Phone');
    assert.equal(other.user_agent, 'curl/8.0');

    const stranger = await registerUser(t.url);
    const notYours = await call(t.url, 'DELETE', `/auth/sessions/${phone.body.session_id}`, {
      token: stranger.access_token,
    });
    assert.equal(notYours.status, 404);
    assert.equal(notYours.body.error, 'session_not_found');
    const end = await call(t.url, 'DELETE', `/auth/sessions/${phone.body.session_id}`, {
      token: user.access_token,
    });
    assert.equal(end.status, 204);
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: phone.body.access_token })).status, 401);

    const all = await call(t.url, 'POST', '/auth/logout-all', { token: user.access_token });
    assert.equal(all.status, 204);
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: user.access_token })).status, 401);
  });

  it('changes the password: fresh tokens here, every other session ended', async () => {
    const user = await registerUser(t.url);
    const other = await call(t.url, 'POST', '/auth/login', {
      json: { email: user.email, password: PASSWORD },
    });
    const wrong = await call(t.url, 'POST', '/auth/password', {
      token: user.access_token,
      json: { current_password: 'nope nope nope', new_password: 'another fine passphrase' },
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_credentials');
    const changed = await call(t.url, 'POST', '/auth/password', {
      token: user.access_token,
      json: { current_password: PASSWORD, new_password: 'another fine passphrase' },
    });
    assert.equal(changed.status, 200);
    assert.equal(changed.body.session_id, user.session_id);
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: changed.body.access_token })).status, 200);
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: other.body.access_token })).status, 401);
    const oldRefresh = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: other.body.refresh_token },
    });
    assert.equal(oldRefresh.body.error, 'invalid_grant');
  });

  it('updates the profile and returns a fresh access token with the new claims', async () => {
    const user = await registerUser(t.url);
    const patched = await call(t.url, 'PATCH', '/auth/me', {
      token: user.access_token,
      json: { name: 'Ada Lovelace', phone_number: '+442071234567' },
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.name, 'Ada Lovelace');
    const claims = JSON.parse(Buffer.from(patched.body.access_token.split('.')[1], 'base64url').toString());
    assert.equal(claims.phone_number, '+442071234567');
    const roles = await call(t.url, 'PATCH', '/auth/me', {
      token: user.access_token,
      json: { roles: ['admin'] },
    });
    assert.equal(roles.status, 400);
    assert.equal(roles.body.error, 'invalid_request');
  });
});

describe('every response', () => {
  it('carries security headers, and unknown routes and methods are clean 404/405', async () => {
    const health = await call(t.url, 'GET', '/healthz');
    assert.equal(health.status, 200);
    for (const header of [
      'x-content-type-options',
      'x-frame-options',
      'referrer-policy',
      'content-security-policy',
    ]) {
      assert.ok(health.headers.get(header), header);
    }
    const missing = await call(t.url, 'GET', '/nope');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'not_found');
    const method = await call(t.url, 'GET', '/auth/login');
    assert.equal(method.status, 405);
    assert.equal(method.body.error, 'method_not_allowed');
    assert.equal(method.headers.get('x-content-type-options'), 'nosniff');
  });

  it('serves Prometheus metrics to loopback callers', async () => {
    const metrics = await fetch(`${t.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /tessera_http_requests_total/);
  });
});
