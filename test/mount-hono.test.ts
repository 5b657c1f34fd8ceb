import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tesseraRoutes } from '@tessera/server/hono';
import { Hono } from 'hono';
import { start } from '../examples/hono-app/server.ts';
import { createTestEngine, mountContract, ORIGIN } from './helpers/mount-contract.ts';
import { PASSWORD } from './helpers/server.ts';

// The example runs on @hono/node-server with Tessera as the first middleware.
mountContract('hono', start);

describe('library mode: hono, with a body another middleware read', () => {
  it('uses the body Hono cached, within Tessera’s rules and limit', async () => {
    const engine = await createTestEngine();
    const app = new Hono();
    // A middleware before Tessera that reads every JSON body (Hono keeps it in c.req.bodyCache).
    app.use(async (c, next) => {
      if (c.req.header('content-type') === 'application/json') await c.req.json();
      await next();
    });
    app.use(tesseraRoutes({ engine, prefix: '/api' }));
    const post = (path: string, body: unknown) =>
      app.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: ORIGIN },
        body: JSON.stringify(body),
      });
    const reg = await post('/api/auth/register', { email: 'hono@example.com', password: PASSWORD });
    assert.equal(reg.status, 201, await reg.clone().text());
    assert.match(reg.headers.getSetCookie().join(''), /Path=\/api\/auth;/);
    const extra = await post('/api/auth/login', {
      email: 'hono@example.com',
      password: PASSWORD,
      admin: true,
    });
    assert.equal(extra.status, 400);
    assert.equal(((await extra.json()) as { field: string }).field, 'admin');
    const big = await post('/api/auth/login', { email: 'a@example.com', password: 'x'.repeat(20_000) });
    assert.equal(big.status, 413);
    const other = await app.request('/elsewhere');
    assert.equal(other.status, 404);
    assert.equal(other.headers.get('x-content-type-options'), null, 'the app’s own 404, untouched');
  });
});
