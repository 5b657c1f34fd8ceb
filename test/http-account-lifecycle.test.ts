import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import {
  ALLOWED_ORIGIN,
  call,
  PASSWORD,
  registerUser,
  startTestServer,
  type TestServer,
} from './helpers/server.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

const NEW_PASSWORD = 'a brand new passphrase';

let t: TestServer;
let receiver: WebhookReceiver;

before(async () => {
  receiver = await startWebhookReceiver(() => t.clock.now());
  t = await startTestServer({ TESSERA_WEBHOOK_URL: receiver.url, TESSERA_WEBHOOK_SECRET: receiver.secret });
});
after(async () => {
  await t.close();
  await receiver.close();
  assert.deepEqual(receiver.rejected, [], 'every delivery verified with Webhook.verify');
});

/** Waits for the next `type` event for `email` that arrives after this call. */
function nextEvent(type: string, email: string) {
  const already = new Set(receiver.accepted);
  return receiver.next((e) => e.type === type && e.data.email === email && !already.has(e));
}

describe('password reset over HTTP', () => {
  it('answers 202 with no body for known and unknown emails, and resets with the token from the webhook', async () => {
    const ada = await registerUser(t.url, 'reset-ada@example.com');
    const requested = nextEvent('password_reset.requested', 'reset-ada@example.com');
    const known = await call(t.url, 'POST', '/auth/password/forgot', {
      json: { email: 'reset-ada@example.com' },
    });
    const unknown = await call(t.url, 'POST', '/auth/password/forgot', {
      json: { email: 'nobody@example.com' },
    });
    for (const response of [known, unknown]) {
      assert.equal(response.status, 202);
      assert.equal(response.text, '');
      assert.equal(response.headers.get('cache-control'), 'no-store');
    }
    const event = await requested;
    assert.equal(event.data.user_id, decodeJwt(ada.access_token).sub);
    assert.match(event.data.token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(new Date(event.data.expires_at).getTime(), t.clock.now() + 30 * 60_000);
    assert.ok(!receiver.accepted.some((e) => e.data.email === 'nobody@example.com'));

    const reset = await call(t.url, 'POST', '/auth/password/reset', {
      json: { token: event.data.token, new_password: NEW_PASSWORD },
    });
    assert.equal(reset.status, 204, reset.text);
    const me = await call(t.url, 'GET', '/auth/me', { token: ada.access_token });
    assert.equal(me.status, 401, 'every session ended');
    const refresh = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: ada.refresh_token },
    });
    assert.equal(refresh.body.error, 'invalid_grant');
    const old = await call(t.url, 'POST', '/auth/login', {
      json: { email: 'reset-ada@example.com', password: PASSWORD },
    });
    assert.equal(old.body.error, 'invalid_credentials');
    const login = await call(t.url, 'POST', '/auth/login', {
      json: { email: 'reset-ada@example.com', password: NEW_PASSWORD },
    });
    assert.equal(login.status, 200);
    assert.ok(
      Number(decodeJwt(login.body.access_token).ver) > Number(decodeJwt(ada.access_token).ver),
      'token version bumped',
    );
    const again = await call(t.url, 'POST', '/auth/password/reset', {
      json: { token: event.data.token, new_password: PASSWORD },
    });
    assert.equal(again.status, 400);
    assert.equal(again.body.error, 'invalid_one_time_token');
    const changed = await receiver.next(
      (e) => e.type === 'password.changed' && e.data.email === 'reset-ada@example.com',
    );
    assert.equal(changed.data.via, 'reset');
    await receiver.next(
      (e) =>
        e.type === 'session.revoked' &&
        e.data.session_id === ada.session_id &&
        e.data.reason === 'password_reset',
    );
  });

  it('lets one of two parallel redemptions of one token win', async () => {
    await registerUser(t.url, 'race@example.com');
    const requested = nextEvent('password_reset.requested', 'race@example.com');
    await call(t.url, 'POST', '/auth/password/forgot', { json: { email: 'race@example.com' } });
    const { data } = await requested;
    const [a, b] = await Promise.all([
      call(t.url, 'POST', '/auth/password/reset', {
        json: { token: data.token, new_password: NEW_PASSWORD },
      }),
      call(t.url, 'POST', '/auth/password/reset', {
        json: { token: data.token, new_password: 'other long passphrase' },
      }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [204, 400]);
    assert.equal([a, b].find((r) => r.status === 400)?.body.error, 'invalid_one_time_token');
    const winner = a.status === 204 ? NEW_PASSWORD : 'other long passphrase';
    const login = await call(t.url, 'POST', '/auth/login', {
      json: { email: 'race@example.com', password: winner },
    });
    assert.equal(login.status, 200, 'the winning password is the one set');
  });
});

describe('email verification over HTTP', () => {
  it('verifies the address and access tokens carry email_verified', async () => {
    const user = await registerUser(t.url, 'verify@example.com');
    assert.equal(decodeJwt(user.access_token).email_verified, false);
    const meBefore = await call(t.url, 'GET', '/auth/me', { token: user.access_token });
    assert.equal(meBefore.body.email_verified, false);
    const requested = nextEvent('email_verification.requested', 'verify@example.com');
    const ask = await call(t.url, 'POST', '/auth/email/verify/request', { token: user.access_token });
    assert.equal(ask.status, 202);
    const noBearer = await call(t.url, 'POST', '/auth/email/verify/request');
    assert.equal(noBearer.status, 401);
    const { data } = await requested;
    const verified = await call(t.url, 'POST', '/auth/email/verify', { json: { token: data.token } });
    assert.deepEqual(
      [verified.status, verified.body],
      [200, { email: 'verify@example.com', email_verified: true }],
    );
    // The profile reads the account, so it says so at once; access tokens from their next refresh.
    const meAfter = await call(t.url, 'GET', '/auth/me', { token: user.access_token });
    assert.equal(meAfter.body.email_verified, true);
    const refreshed = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: user.refresh_token },
    });
    assert.equal(decodeJwt(refreshed.body.access_token).email_verified, true);
    const twice = await call(t.url, 'POST', '/auth/email/verify/request', {
      token: refreshed.body.access_token,
    });
    assert.deepEqual([twice.status, twice.body.error], [409, 'email_already_verified']);
  });
});

describe('magic links over HTTP', () => {
  it('signs a browser in with cookie transport (amr email), and answers 202 for unknown emails', async () => {
    const user = await registerUser(t.url, 'magic@example.com');
    const requested = nextEvent('magic_link.requested', 'magic@example.com');
    for (const email of ['magic@example.com', 'ghost@example.com']) {
      const response = await call(t.url, 'POST', '/auth/magic-link', { json: { email } });
      assert.deepEqual([response.status, response.text], [202, '']);
    }
    const { data } = await requested;
    const created = receiver.next(
      (e) => e.type === 'session.created' && e.data.device_name === 'Kitchen tablet',
    );
    const foreign = await call(t.url, 'POST', '/auth/magic-link/verify', {
      json: { token: data.token },
      headers: { origin: 'https://evil.example', 'tessera-transport': 'cookie' },
    });
    assert.deepEqual([foreign.status, foreign.body.error], [403, 'forbidden_origin']);
    const signIn = await call(t.url, 'POST', '/auth/magic-link/verify', {
      json: { token: data.token, device_name: 'Kitchen tablet' },
      headers: { origin: ALLOWED_ORIGIN, 'tessera-transport': 'cookie' },
    });
    assert.equal(signIn.status, 200, signIn.text);
    assert.equal(signIn.body.refresh_token, undefined, 'the refresh token is in the cookie');
    const cookies = signIn.headers.getSetCookie();
    assert.ok(cookies.some((c) => c.startsWith('tessera_refresh=tsr_')));
    assert.ok(
      cookies.some((c) =>
        /^tessera_device=[A-Za-z0-9_-]{22}; Max-Age=34560000; Path=\/auth; HttpOnly; Secure; SameSite=Strict$/.test(
          c,
        ),
      ),
    );
    const claims = decodeJwt(signIn.body.access_token);
    assert.deepEqual(claims.amr, ['email']);
    assert.equal(claims.sub, decodeJwt(user.access_token).sub);
    const event = await created;
    assert.equal(event.data.new_device, true);
    assert.deepEqual(event.data.amr, ['email']);
    const reuse = await call(t.url, 'POST', '/auth/magic-link/verify', { json: { token: data.token } });
    assert.equal(reuse.body.error, 'invalid_one_time_token');
  });

  it('marks a browser that signed in before as a known device', async () => {
    await registerUser(t.url, 'devices@example.com');
    const headers = { origin: ALLOWED_ORIGIN, 'tessera-transport': 'cookie' };
    const first = await call(t.url, 'POST', '/auth/login', {
      json: { email: 'devices@example.com', password: PASSWORD, device_name: 'Browser A' },
      headers,
    });
    const device =
      first.headers
        .getSetCookie()
        .find((c) => c.startsWith('tessera_device='))
        ?.split(';')[0] ?? '';
    assert.ok(device, 'a device cookie was set');
    const again = receiver.next(
      (e) => e.type === 'session.created' && e.data.device_name === 'Browser A again',
    );
    const second = await call(t.url, 'POST', '/auth/login', {
      json: { email: 'devices@example.com', password: PASSWORD, device_name: 'Browser A again' },
      headers: { ...headers, cookie: device },
    });
    assert.equal(second.status, 200);
    assert.ok(
      !second.headers.getSetCookie().some((c) => c.startsWith('tessera_device=')),
      'kept, not replaced',
    );
    assert.equal((await again).data.new_device, false);
    const other = receiver.next((e) => e.type === 'session.created' && e.data.device_name === 'Browser B');
    await call(t.url, 'POST', '/auth/login', {
      json: { email: 'devices@example.com', password: PASSWORD, device_name: 'Browser B' },
      headers,
    });
    assert.equal((await other).data.new_device, true);
  });
});

describe('email change over HTTP', () => {
  it('needs the current password, takes effect once the new address confirms, and notifies the old one', async () => {
    const user = await registerUser(t.url, 'move-me@example.com');
    const wrong = await call(t.url, 'POST', '/auth/email/change', {
      token: user.access_token,
      json: { new_email: 'moved@example.com', current_password: 'not my password' },
    });
    assert.deepEqual([wrong.status, wrong.body.error], [401, 'invalid_credentials']);
    const requested = nextEvent('email_change.requested', 'moved@example.com');
    const ask = await call(t.url, 'POST', '/auth/email/change', {
      token: user.access_token,
      json: { new_email: 'moved@example.com', current_password: PASSWORD },
    });
    assert.equal(ask.status, 202, ask.text);
    const { data } = await requested;
    assert.equal(data.previous_email, 'move-me@example.com');
    const me = await call(t.url, 'GET', '/auth/me', { token: user.access_token });
    assert.equal(me.body.email, 'move-me@example.com', 'nothing changed before the confirmation');
    const notice = receiver.next(
      (e) => e.type === 'email.changed' && e.data.previous_email === 'move-me@example.com',
    );
    const confirm = await call(t.url, 'POST', '/auth/email/change/confirm', { json: { token: data.token } });
    assert.deepEqual(
      [confirm.status, confirm.body],
      [200, { email: 'moved@example.com', email_verified: true }],
    );
    assert.equal((await notice).data.email, 'moved@example.com');
    const login = await call(t.url, 'POST', '/auth/login', {
      json: { email: 'moved@example.com', password: PASSWORD },
    });
    assert.equal(login.status, 200);
    const taken = await call(t.url, 'POST', '/auth/email/change', {
      token: login.body.access_token,
      json: { new_email: 'verify@example.com', current_password: PASSWORD },
    });
    assert.deepEqual([taken.status, taken.body.error], [409, 'email_taken']);
  });
});

describe('without a webhook target', () => {
  it('serves none of the one-time-token routes', async () => {
    const bare = await startTestServer();
    try {
      for (const path of [
        '/auth/password/forgot',
        '/auth/password/reset',
        '/auth/magic-link',
        '/auth/email/verify',
      ]) {
        const response = await call(bare.url, 'POST', path, { json: {} });
        assert.deepEqual([response.status, response.body.error], [404, 'not_found'], path);
      }
      const login = await registerUser(bare.url);
      assert.ok(!(await bare.server.store.listOutbox('pending', 10)).length, 'no events written');
      assert.equal(decodeJwt(login.access_token).email_verified, false);
    } finally {
      await bare.close();
    }
  });
});
