import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createTesseraClient } from '@tessera/client';
import { createManualClock } from '@tessera/core';
import { start } from '../examples/koa-sliding/server.ts';
import { call, PASSWORD, TEST_ARGON2 } from './helpers/server.ts';

const clock = createManualClock(Date.now());
let app: Awaited<ReturnType<typeof start>>;
let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-koa-sliding-'));
  app = await start(0, { dbPath: join(dir, 'app.db'), argon2: TEST_ARGON2, rateLimits: false, clock });
});
after(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('example: Koa with sliding-single-token', () => {
  it('renews the token on the app’s own routes, carries a verified phone number at once, and ends at logout', async () => {
    const reg = await call(app.url, 'POST', '/api/auth/register', {
      json: { email: 'koa@example.com', password: PASSWORD },
    });
    assert.equal(reg.status, 201);
    assert.equal(reg.body.refresh_token, undefined, 'one token, no refresh token');
    let token = reg.body.access_token as string;
    const young = await call(app.url, 'GET', '/api/orders', { token });
    assert.equal(young.status, 200);
    assert.equal(young.headers.get('tessera-access-token'), null);
    clock.advance(8 * 60_000); // past half of 15 minutes
    const renewed = await call(app.url, 'GET', '/api/orders', { token });
    assert.equal(renewed.status, 200);
    token = renewed.headers.get('tessera-access-token') ?? '';
    assert.ok(token);

    const verified = await call(app.url, 'POST', '/api/verify-phone', { token });
    const claims = JSON.parse(Buffer.from(verified.body.access_token.split('.')[1], 'base64url').toString());
    assert.equal(claims.phone_number, '+14155550123');

    assert.equal(
      (await call(app.url, 'POST', '/api/auth/logout', { token: verified.body.access_token })).status,
      204,
    );
    const after = await call(app.url, 'GET', '/api/orders', { token: verified.body.access_token });
    assert.equal(after.status, 401);
    assert.match(after.headers.get('www-authenticate') ?? '', /invalid_token/);
    const none = await call(app.url, 'GET', '/api/orders');
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="tessera"');
  });

  it('keeps a @tessera/client user signed in on the tokens the app’s own routes renew', async () => {
    const client = createTesseraClient({
      baseUrl: `${app.url}/api`,
      policy: 'sliding-single-token',
      transport: 'body',
      now: () => clock.now(),
    });
    try {
      await client.register('koa-client@example.com', PASSWORD);
      const tokens = new Set([await client.getAccessToken()]);
      for (let i = 0; i < 6; i += 1) {
        clock.advance(8 * 60_000); // past half of 15 minutes, never past the whole
        assert.equal((await client.fetch(`${app.url}/api/orders`)).status, 200, `lifetime ${i}`);
        tokens.add(await client.getAccessToken());
      }
      assert.equal(tokens.size, 7, 'a new token from every response past half the life');
      assert.equal(client.state().signedIn, true);
    } finally {
      client.close();
    }
  });
});
