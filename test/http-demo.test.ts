import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ERROR_STATUS } from '@tessera/core';
import { freePort } from './helpers/child-server.ts';
import { call, registerUser, startTestServer, type TestServer } from './helpers/server.ts';

// The demo server's own routes over loopback HTTP: the resource service (GET /demo/api/resource, which
// verifies with @tessera/verify against the issuer) and the webhook inbox (GET /demo/inbox): what they
// answer, what they refuse, and that they exist only in demo mode.
const SERVICE_TOKEN = 'demo-service-token-0123456789abcdef';
const CODES = new Set(Object.keys(ERROR_STATUS));

/** A demo server on the wall clock whose issuer is its own address (the resource service reaches it there). */
async function startDemoServer(env: Record<string, string> = {}, demo = true): Promise<TestServer> {
  const port = await freePort();
  return startTestServer(
    {
      TESSERA_PORT: String(port),
      TESSERA_ISSUER: `http://127.0.0.1:${port}`,
      TESSERA_ACCESS_TTL: '60s',
      ...env,
    },
    { demo, realClock: true },
  );
}

/** Polls `read` until it returns a value (the inbox fills and the feed spreads within milliseconds). */
async function eventually<T>(read: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('demo resource service', () => {
  let t: TestServer;
  before(async () => {
    t = await startDemoServer();
  });
  after(async () => {
    await t.close();
  });

  it('accepts a live access token, verified by @tessera/verify', async () => {
    const user = await registerUser(t.url);
    const answer = await call(t.url, 'GET', '/demo/api/resource', { token: user.access_token });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.verified_by, '@tessera/verify');
    assert.equal(answer.body.sid, user.session_id);
    assert.deepEqual(answer.body.amr, ['pwd']);
    assert.equal(answer.headers.get('cache-control'), 'no-store');
  });

  it('refuses bad credentials with RFC 6750 answers and changes nothing', async () => {
    const user = await registerUser(t.url);
    const sessionsBefore = await call(t.url, 'GET', '/auth/sessions', { token: user.access_token });
    const [header, payload] = user.access_token.split('.');
    const cases: Array<[Record<string, string>, number, string | undefined]> = [
      [{}, 401, undefined],
      [{ authorization: 'Basic dXNlcjpwYXNz' }, 401, undefined],
      [{ authorization: 'Bearer' }, 400, 'invalid_request'],
      [{ authorization: 'Bearer a b c' }, 400, 'invalid_request'],
      [{ authorization: 'Bearer not-a-jwt' }, 401, 'invalid_token'],
      [{ authorization: `Bearer ${header}.${payload}.AAAA` }, 401, 'invalid_token'],
      [{ authorization: `Bearer ${'x'.repeat(8000)}` }, 401, 'invalid_token'],
    ];
    for (const [headers, status, error] of cases) {
      const answer = await call(t.url, 'GET', '/demo/api/resource', { headers });
      assert.equal(answer.status, status, JSON.stringify(headers).slice(0, 80));
      assert.equal(answer.body.error, error);
      assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer realm="api"/);
      if (error !== undefined) assert.ok(CODES.has(error));
      assert.equal(answer.body.revocation_lag_ms, undefined);
    }
    const wrongMethod = await call(t.url, 'POST', '/demo/api/resource', {
      token: user.access_token,
      json: {},
    });
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.body.error, 'method_not_allowed');
    assert.deepEqual(
      (await call(t.url, 'GET', '/auth/sessions', { token: user.access_token })).body,
      sessionsBefore.body,
    );
  });

  it("refuses a revoked session's unexpired token and reports the feed's lag", async () => {
    const user = await registerUser(t.url);
    assert.equal((await call(t.url, 'GET', '/demo/api/resource', { token: user.access_token })).status, 200);
    const loggedOut = await call(t.url, 'POST', '/auth/logout', {
      json: { refresh_token: user.refresh_token },
    });
    assert.equal(loggedOut.status, 204);
    const refused = await eventually(async () => {
      const answer = await call(t.url, 'GET', '/demo/api/resource', { token: user.access_token });
      return answer.status === 401 && typeof answer.body.revocation_lag_ms === 'number' ? answer : undefined;
    }, 'the refusal');
    assert.equal(refused.body.error, 'invalid_token');
    assert.equal(refused.body.error_description, 'The session of this token has ended.');
    assert.ok(refused.body.revocation_lag_ms >= 0 && refused.body.revocation_lag_ms < 5000);
    assert.equal(refused.body.verifier.feed_connected, true);
    assert.ok(refused.body.verifier.revocations >= 1);
  });
});

describe('demo inbox', () => {
  let t: TestServer;
  before(async () => {
    t = await startDemoServer();
  });
  after(async () => {
    await t.close();
  });

  it('lists webhook events newest first, one-time tokens included', async () => {
    const user = await registerUser(t.url);
    assert.equal(
      (await call(t.url, 'POST', '/auth/password/forgot', { json: { email: user.email } })).status,
      202,
    );
    const reset = await eventually(async () => {
      const inbox = await call(t.url, 'GET', '/demo/inbox');
      assert.equal(inbox.status, 200);
      assert.equal(inbox.headers.get('cache-control'), 'no-store');
      return inbox.body.events.find(
        (e: { type: string; data: { email?: string } }) =>
          e.type === 'password_reset.requested' && e.data.email === user.email,
      );
    }, 'the reset event');
    assert.match(reset.id, /^msg_/);
    assert.match(reset.data.token, /^[\w-]{20,}/);
    const { events } = (await call(t.url, 'GET', '/demo/inbox')).body;
    assert.equal(events[0].id, reset.id, 'newest first');
    assert.ok(events.some((e: { type: string }) => e.type === 'user.created'));
    // The token it shows works (once).
    const used = await call(t.url, 'POST', '/auth/password/reset', {
      json: { token: reset.data.token, new_password: 'a fresh passphrase here' },
    });
    assert.equal(used.status, 204);
  });

  it('answers only GET', async () => {
    const answer = await call(t.url, 'DELETE', '/demo/inbox');
    assert.equal(answer.status, 405);
    assert.equal(answer.body.error, 'method_not_allowed');
  });
});

describe('demo routes only where they belong', () => {
  it('refuses the inbox to a caller beyond this machine, even with the service token', async () => {
    const t = await startDemoServer({ TESSERA_TRUST_PROXY: '1', TESSERA_SERVICE_TOKEN: SERVICE_TOKEN });
    try {
      for (const headers of [
        { 'x-forwarded-for': '203.0.113.7' },
        { 'x-forwarded-for': '203.0.113.7', authorization: `Bearer ${SERVICE_TOKEN}` },
      ]) {
        const answer = await call(t.url, 'GET', '/demo/inbox', { headers });
        assert.equal(answer.status, 403);
        assert.equal(answer.body.error, 'forbidden');
        assert.equal(answer.body.events, undefined);
      }
      assert.equal((await call(t.url, 'GET', '/demo/inbox')).status, 200);
    } finally {
      await t.close();
    }
  });

  it('keeps no inbox when webhooks go to TESSERA_WEBHOOK_URL, and no demo routes without --demo', async () => {
    const secret = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
    const withWebhooks = await startDemoServer({
      TESSERA_WEBHOOK_URL: 'http://127.0.0.1:9/hooks',
      TESSERA_WEBHOOK_SECRET: secret,
    });
    try {
      const inbox = await call(withWebhooks.url, 'GET', '/demo/inbox');
      assert.equal(inbox.status, 404);
      assert.equal(inbox.body.error, 'not_found');
      const user = await registerUser(withWebhooks.url);
      const resource = await call(withWebhooks.url, 'GET', '/demo/api/resource', {
        token: user.access_token,
      });
      assert.equal(resource.status, 200);
    } finally {
      await withWebhooks.close();
    }
    const plain = await startDemoServer({}, false);
    try {
      for (const path of ['/demo/inbox', '/demo/api/resource', '/demo-account.js']) {
        const answer = await call(plain.url, 'GET', path);
        assert.equal(answer.status, 404, path);
        assert.equal(answer.body.error, 'not_found');
      }
      // Nor do the one-time-token routes exist without a delivery target.
      const forgot = await call(plain.url, 'POST', '/auth/password/forgot', {
        json: { email: 'a@example.com' },
      });
      assert.equal(forgot.status, 404);
    } finally {
      await plain.close();
    }
  });
});
