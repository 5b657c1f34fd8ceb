import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, PASSWORD, registerUser, startTestServer, type TestServer } from './helpers/server.ts';

let t: TestServer;
before(async () => {
  t = await startTestServer({ TESSERA_RATE_LIMIT: 'on' });
});
after(async () => {
  await t.close();
});

describe('rate limits (defaults)', () => {
  it('backs off an account after 5 failures, even for the right password, and recovers', async () => {
    const user = await registerUser(t.url);
    for (let i = 0; i < 5; i += 1) {
      const wrong = await call(t.url, 'POST', '/auth/login', {
        json: { email: user.email, password: 'wrong password!' },
      });
      assert.equal(wrong.status, 401);
    }
    const limited = await call(t.url, 'POST', '/auth/login', {
      json: { email: user.email, password: PASSWORD },
    });
    assert.equal(limited.status, 429);
    assert.equal(limited.body.error, 'rate_limited');
    const retryAfter = Number(limited.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    t.clock.advance(61_000);
    const ok = await call(t.url, 'POST', '/auth/login', { json: { email: user.email, password: PASSWORD } });
    assert.equal(ok.status, 200);
  });

  it('limits logins per IP', async () => {
    t.clock.advance(3_600_000);
    let status = 0;
    for (let i = 0; i < 31 && status !== 429; i += 1) {
      status = (
        await call(t.url, 'POST', '/auth/login', {
          json: { email: `n${i}@example.com`, password: 'whatever password' },
        })
      ).status;
    }
    assert.equal(status, 429);
  });

  it('limits refreshes per session', async () => {
    t.clock.advance(3_600_000);
    const user = await registerUser(t.url).catch(async () => {
      t.clock.advance(3_600_000);
      return registerUser(t.url);
    });
    let token = user.refresh_token;
    let last = 200;
    for (let i = 0; i < 61 && last === 200; i += 1) {
      const response = await call(t.url, 'POST', '/auth/refresh', { json: { refresh_token: token } });
      last = response.status;
      if (last === 200) token = response.body.refresh_token;
    }
    assert.equal(last, 429);
  });
});
