import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
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
});
