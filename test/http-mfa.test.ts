import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { requireSession as webRequireSession } from '@tessera/server';
import { requireSession as expressRequireSession } from '@tessera/server/express';
import express from 'express';
import { call, PASSWORD, registerUser, startTestServer, type TestServer } from './helpers/server.ts';
import { authenticatorCode, jwtPayload, otherCode } from './helpers/totp.ts';

const STEP_MS = 30_000;

let t: TestServer;
before(async () => {
  t = await startTestServer({ TESSERA_REAUTH_MAX_AGE: '5m' });
});
after(async () => {
  await t.close();
});

const post = (path: string, token: string, json: unknown = {}) => call(t.url, 'POST', path, { token, json });

/** Registers a user and turns two-factor login on over HTTP; the clock then sits one step later. */
async function userWithTwoFactor() {
  const user = await registerUser(t.url);
  const enrolled = await post('/auth/mfa/totp/enroll', user.access_token);
  assert.equal(enrolled.status, 200, enrolled.text);
  const secret: string = enrolled.body.secret;
  const confirmed = await post('/auth/mfa/totp/confirm', user.access_token, {
    code: authenticatorCode(secret, t.clock.now()),
  });
  assert.equal(confirmed.status, 200, confirmed.text);
  t.clock.advance(STEP_MS);
  return { ...user, secret, recoveryCodes: confirmed.body.recovery_codes as string[] };
}

const login = (email: string, extra: Record<string, unknown> = {}) =>
  call(t.url, 'POST', '/auth/login', { json: { email, password: PASSWORD, ...extra } });

describe('two-factor login over HTTP', () => {
  it('enrols, confirms with ten recovery codes shown once, and then signs in only with a code', async () => {
    const user = await registerUser(t.url);
    const status = await call(t.url, 'GET', '/auth/mfa', { token: user.access_token });
    assert.deepEqual(status.body, { enabled: false, pending: false, recovery_codes_remaining: 0 });

    const enrolled = await post('/auth/mfa/totp/enroll', user.access_token);
    assert.equal(enrolled.status, 200);
    assert.equal(enrolled.headers.get('cache-control'), 'no-store');
    assert.deepEqual(Object.keys(enrolled.body).sort(), ['otpauth_uri', 'secret']);
    const uri = new URL(enrolled.body.otpauth_uri);
    assert.equal(uri.protocol, 'otpauth:');
    assert.equal(uri.searchParams.get('secret'), enrolled.body.secret);
    assert.equal(uri.searchParams.get('issuer'), '127.0.0.1:4000');
    const stored = await t.server.store.findUserByEmail(user.email);
    assert.ok(
      stored?.totpPendingSecret && !stored.totpPendingSecret.includes(enrolled.body.secret),
      'sealed',
    );

    const secret: string = enrolled.body.secret;
    const code = authenticatorCode(secret, t.clock.now());
    const wrong = await post('/auth/mfa/totp/confirm', user.access_token, { code: otherCode(code) });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error, 'invalid_totp');
    assert.equal(wrong.body.field, 'code');
    const confirmed = await post('/auth/mfa/totp/confirm', user.access_token, { code });
    assert.equal(confirmed.status, 200);
    assert.equal(confirmed.headers.get('cache-control'), 'no-store');
    assert.equal(confirmed.body.recovery_codes.length, 10);
    const again = await call(t.url, 'GET', '/auth/mfa', { token: user.access_token });
    assert.deepEqual(again.body, { enabled: true, pending: false, recovery_codes_remaining: 10 });
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: user.access_token })).body.two_factor, true);

    const none = await login(user.email);
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'totp_required');
    const replayed = await login(user.email, { totp: code });
    assert.equal(replayed.body.error, 'invalid_totp', 'the confirming code never signs in');
    t.clock.advance(STEP_MS);
    const next = authenticatorCode(secret, t.clock.now());
    const ok = await login(user.email, { totp: next, device_name: 'Phone' });
    assert.equal(ok.status, 200, ok.text);
    const claims = jwtPayload(ok.body.access_token);
    assert.deepEqual(claims.amr, ['pwd', 'otp', 'mfa']);
    assert.equal(claims.acr, '2');
    assert.equal(claims.auth_time, Math.floor(t.clock.now() / 1000));
    const twice = await login(user.email, { totp: next });
    assert.equal(twice.status, 401);
    assert.equal(twice.body.error, 'invalid_totp');
    const earlier = await login(user.email, { totp: authenticatorCode(secret, t.clock.now(), -1) });
    assert.equal(earlier.body.error, 'invalid_totp', 'an earlier step, inside the window');
  });

  it('takes each recovery code once, then a regenerated set replaces them', async () => {
    const user = await userWithTwoFactor();
    const [first, second] = user.recoveryCodes;
    const ok = await login(user.email, { recovery_code: first });
    assert.equal(ok.status, 200);
    assert.deepEqual(jwtPayload(ok.body.access_token).amr, ['pwd', 'otp', 'mfa']);
    const reused = await login(user.email, { recovery_code: first });
    assert.equal(reused.status, 401);
    assert.equal(reused.body.error, 'invalid_recovery_code');
    assert.equal(reused.body.field, 'recovery_code');
    const both = await login(user.email, { recovery_code: second, totp: '123456' });
    assert.equal(both.status, 400);
    assert.equal(both.body.error, 'invalid_request');
    const typed = await login(user.email, { recovery_code: 42 });
    assert.equal(typed.status, 400);

    const regenerated = await post('/auth/mfa/recovery-codes', ok.body.access_token);
    assert.equal(regenerated.status, 200, regenerated.text);
    assert.equal(regenerated.body.recovery_codes.length, 10);
    assert.equal((await login(user.email, { recovery_code: second })).body.error, 'invalid_recovery_code');
    assert.equal(
      (await login(user.email, { recovery_code: regenerated.body.recovery_codes[3] })).status,
      200,
    );
  });

  it('turns off with a TOTP or recovery code only, and then signs in with the password alone', async () => {
    const user = await userWithTwoFactor();
    const right = authenticatorCode(user.secret, t.clock.now());
    for (const [code, error] of [
      [otherCode(right), 'invalid_totp'],
      ['zzzz-zzzz-zzzz-zzzz', 'invalid_recovery_code'],
    ] as const) {
      const refused = await call(t.url, 'DELETE', '/auth/mfa/totp', {
        token: user.access_token,
        json: { code },
      });
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error, error);
    }
    assert.equal((await login(user.email)).body.error, 'totp_required', 'still on');
    const off = await call(t.url, 'DELETE', '/auth/mfa/totp', {
      token: user.access_token,
      json: { code: user.recoveryCodes[9] },
    });
    assert.equal(off.status, 204, off.text);
    const status = await call(t.url, 'GET', '/auth/mfa', { token: user.access_token });
    assert.deepEqual(status.body, { enabled: false, pending: false, recovery_codes_remaining: 0 });
    const plain = await login(user.email);
    assert.equal(plain.status, 200);
    assert.deepEqual(jwtPayload(plain.body.access_token).amr, ['pwd']);
    const again = await call(t.url, 'DELETE', '/auth/mfa/totp', {
      token: user.access_token,
      json: { code: right },
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.error, 'mfa_not_enabled');
  });

  it('answers 409 for an enrolment twice or a confirmation without one, and 400 for a code of the wrong type', async () => {
    const user = await userWithTwoFactor();
    const twice = await post('/auth/mfa/totp/enroll', user.access_token);
    assert.equal(twice.status, 409);
    assert.equal(twice.body.error, 'mfa_already_enabled');
    const fresh = await registerUser(t.url);
    const early = await post('/auth/mfa/totp/confirm', fresh.access_token, { code: '123456' });
    assert.equal(early.status, 409);
    assert.equal(early.body.error, 'mfa_not_enabled');
    const regenerate = await post('/auth/mfa/recovery-codes', fresh.access_token);
    assert.equal(regenerate.body.error, 'mfa_not_enabled');
    for (const code of [123456, null, ['123456'], 'x'.repeat(65)]) {
      const response = await post('/auth/mfa/totp/confirm', fresh.access_token, { code });
      assert.equal(response.status, 400, JSON.stringify(code));
      assert.equal(response.body.error, 'invalid_request');
    }
  });

  it('counts wrong codes against the account before checking them (per-account backoff)', async () => {
    const limited = await startTestServer({ TESSERA_RATE_LIMIT: 'on' });
    try {
      const user = await registerUser(limited.url);
      const enrolled = await call(limited.url, 'POST', '/auth/mfa/totp/enroll', {
        token: user.access_token,
        json: {},
      });
      const secret: string = enrolled.body.secret;
      await call(limited.url, 'POST', '/auth/mfa/totp/confirm', {
        token: user.access_token,
        json: { code: authenticatorCode(secret, limited.clock.now()) },
      });
      limited.clock.advance(STEP_MS);
      const wrong = otherCode(authenticatorCode(secret, limited.clock.now()));
      const responses = await Promise.all(
        Array.from({ length: 20 }, () =>
          call(limited.url, 'POST', '/auth/login', {
            json: { email: user.email, password: PASSWORD, totp: wrong },
          }),
        ),
      );
      const codes = responses.map((r) => r.body.error).sort();
      assert.deepEqual(
        [codes.filter((c) => c === 'invalid_totp').length, codes.filter((c) => c === 'rate_limited').length],
        [5, 15],
      );
      assert.ok(
        responses.filter((r) => r.status === 429).every((r) => Number(r.headers.get('retry-after')) >= 1),
      );
    } finally {
      await limited.close();
    }
  });
});

const CHALLENGE =
  /^Bearer realm="tessera", error="insufficient_user_authentication", error_description="[^"]+", max_age=300$/;

function assertChallenge(response: Awaited<ReturnType<typeof call>>, label: string): void {
  assert.equal(response.status, 401, `${label}: ${response.text}`);
  assert.match(response.headers.get('www-authenticate') ?? '', CHALLENGE, label);
  assert.equal(response.body.error, 'insufficient_user_authentication', label);
  assert.equal(response.body.max_age, 300, label);
}

describe('step-up (RFC 9470) on every sensitive route', () => {
  it('answers the challenge once auth_time is older than TESSERA_REAUTH_MAX_AGE, changes nothing, and passes after /auth/reauthenticate', async () => {
    const user = await registerUser(t.url);
    let refreshToken = user.refresh_token;
    /** Time passes, the client refreshes as it does: a valid token whose authentication is now too old. */
    const later = async (): Promise<string> => {
      t.clock.advance(301_000);
      const refreshed = await call(t.url, 'POST', '/auth/refresh', { json: { refresh_token: refreshToken } });
      assert.equal(refreshed.status, 200, refreshed.text);
      refreshToken = refreshed.body.refresh_token;
      return refreshed.body.access_token;
    };
    const reauthenticate = async (token: string, json: Record<string, unknown>): Promise<string> => {
      const response = await post('/auth/reauthenticate', token, json);
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.refresh_token, undefined, 'nothing rotates');
      assert.equal(response.body.session_id, user.session_id);
      assert.equal(response.headers.get('cache-control'), 'no-store');
      return response.body.access_token;
    };
    const stateOf = async () => {
      const stored = await t.server.store.findUserByEmail(user.email);
      return { stored, recoveryCodes: stored ? await t.server.store.countRecoveryCodes(stored.id) : 0 };
    };
    const refusedChangesNothing = async (
      label: string,
      run: () => Promise<Awaited<ReturnType<typeof call>>>,
    ) => {
      const before = await stateOf();
      assertChallenge(await run(), label);
      assert.deepEqual(await stateOf(), before, `${label}: state unchanged`);
    };

    // Enrol, after re-authenticating with the password.
    let token = await later();
    await refusedChangesNothing('enroll', () => post('/auth/mfa/totp/enroll', token));
    token = await reauthenticate(token, { password: PASSWORD });
    const enrolled = await post('/auth/mfa/totp/enroll', token);
    assert.equal(enrolled.status, 200, enrolled.text);
    const secret: string = enrolled.body.secret;

    // Confirm.
    token = await later();
    await refusedChangesNothing('confirm', () =>
      post('/auth/mfa/totp/confirm', token, { code: authenticatorCode(secret, t.clock.now()) }),
    );
    token = await reauthenticate(token, { password: PASSWORD });
    const confirmed = await post('/auth/mfa/totp/confirm', token, {
      code: authenticatorCode(secret, t.clock.now()),
    });
    assert.equal(confirmed.status, 200, confirmed.text);
    const codes: string[] = confirmed.body.recovery_codes;

    // Recovery codes: with two-factor login on, the password alone no longer steps up.
    token = await later();
    await refusedChangesNothing('recovery-codes', () => post('/auth/mfa/recovery-codes', token));
    const passwordOnly = await post('/auth/reauthenticate', token, { password: PASSWORD });
    assert.equal(passwordOnly.status, 401);
    assert.equal(passwordOnly.body.error, 'totp_required');
    token = await reauthenticate(token, { totp: authenticatorCode(secret, t.clock.now()) });
    assert.deepEqual(jwtPayload(token).amr, ['otp']);
    assert.equal(jwtPayload(token).acr, '1');
    assert.equal((await post('/auth/mfa/recovery-codes', token)).status, 200);

    // Password change: the old recovery codes are gone; password and code together make acr 2.
    token = await later();
    const change = { current_password: PASSWORD, new_password: 'a brand new passphrase' };
    await refusedChangesNothing('password', () => post('/auth/password', token, change));
    const stale = await post('/auth/reauthenticate', token, { recovery_code: codes[0] });
    assert.equal(stale.body.error, 'invalid_recovery_code', 'the regenerated set replaced it');
    token = await reauthenticate(token, {
      password: PASSWORD,
      totp: authenticatorCode(secret, t.clock.now()),
    });
    assert.deepEqual(jwtPayload(token).amr, ['pwd', 'otp', 'mfa']);
    assert.equal(jwtPayload(token).acr, '2');
    const changed = await post('/auth/password', token, change);
    assert.equal(changed.status, 200, changed.text);
    refreshToken = changed.body.refresh_token;

    // Disable.
    token = await later();
    await refusedChangesNothing('disable', () =>
      call(t.url, 'DELETE', '/auth/mfa/totp', {
        token,
        json: { code: authenticatorCode(secret, t.clock.now()) },
      }),
    );
    token = await reauthenticate(token, { totp: authenticatorCode(secret, t.clock.now()) });
    t.clock.advance(STEP_MS);
    const off = await call(t.url, 'DELETE', '/auth/mfa/totp', {
      token,
      json: { code: authenticatorCode(secret, t.clock.now()) },
    });
    assert.equal(off.status, 204, off.text);
  });

  it('keeps the refresh token and the token lifetime as they were', async () => {
    const user = await registerUser(t.url);
    t.clock.advance(400_000);
    const reauth = await post('/auth/reauthenticate', user.access_token, { password: PASSWORD });
    assert.equal(reauth.status, 200);
    const before = jwtPayload(user.access_token);
    const after = jwtPayload(reauth.body.access_token);
    assert.equal(after.exp, before.exp);
    assert.equal(reauth.body.expires_in, after.exp - after.iat);
    assert.equal(after.auth_time, Math.floor(t.clock.now() / 1000));
    const refreshed = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: user.refresh_token },
    });
    assert.equal(refreshed.status, 200, 'the refresh token still works');
    assert.equal(jwtPayload(refreshed.body.access_token).auth_time, after.auth_time);
  });

  it('refuses wrong credentials with 401 and bad input with 400, changing nothing', async () => {
    const user = await registerUser(t.url);
    const session = await t.server.store.findSession(user.session_id);
    for (const [json, status, error] of [
      [{ password: 'not the password' }, 401, 'invalid_credentials'],
      [{}, 400, 'invalid_request'],
      [{ totp: '123456' }, 409, 'mfa_not_enabled'],
      [{ password: 42 }, 400, 'invalid_request'],
      [{ password: PASSWORD, extra: 1 }, 400, 'invalid_request'],
    ] as const) {
      const response = await post('/auth/reauthenticate', user.access_token, json);
      assert.equal(response.status, status, JSON.stringify(json));
      assert.equal(response.body.error, error, JSON.stringify(json));
    }
    const anonymous = await call(t.url, 'POST', '/auth/reauthenticate', { json: { password: PASSWORD } });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Bearer realm="tessera"');
    assert.deepEqual(await t.server.store.findSession(user.session_id), session);
  });
});

describe("requireSession({ maxAge, acr }) on an app's own routes", () => {
  it('answers the same RFC 9470 challenge as Tessera’s routes, in the web core and the Node hosts', async () => {
    const engine = t.server.engine;
    const web = webRequireSession(engine, { maxAge: 300 });
    const strong = webRequireSession(engine, { acr: '2' });
    const app = express();
    app.get('/payouts', expressRequireSession(engine, { maxAge: 300 }), (req, res) => {
      res.json({ sub: req.auth?.sub });
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const appUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const user = await registerUser(t.url);
      const request = (token: string) =>
        new Request('http://app/payouts', { headers: { authorization: `Bearer ${token}` } });
      assert.ok(!((await web(request(user.access_token))) instanceof Response), 'a fresh sign-in passes');
      assert.equal((await call(appUrl, 'GET', '/payouts', { token: user.access_token })).status, 200);
      const weak = await strong(request(user.access_token));
      assert.ok(weak instanceof Response);
      assert.equal(weak.status, 401);
      assert.match(
        weak.headers.get('www-authenticate') ?? '',
        /error="insufficient_user_authentication".*acr_values="2"$/,
      );

      t.clock.advance(301_000);
      const stale = await web(request(user.access_token));
      assert.ok(stale instanceof Response);
      assert.match(stale.headers.get('www-authenticate') ?? '', CHALLENGE);
      assert.equal((await stale.json()).max_age, 300);
      assertChallenge(await call(appUrl, 'GET', '/payouts', { token: user.access_token }), 'express');

      const reauth = await post('/auth/reauthenticate', user.access_token, { password: PASSWORD });
      assert.ok(!((await web(request(reauth.body.access_token))) instanceof Response));
      assert.equal((await call(appUrl, 'GET', '/payouts', { token: reauth.body.access_token })).status, 200);
      assert.throws(() => webRequireSession(engine, { maxAge: -1 }), TypeError);
      assert.throws(() => expressRequireSession(engine, { acr: 'two factors' }), TypeError);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
