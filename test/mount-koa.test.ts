import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tesseraRoutes } from '@tessera/server/koa';
import Koa from 'koa';
import { readJson, start } from '../examples/koa-app/server.ts';
import { createTestEngine, listenOnLoopback, mountContract, postChunked } from './helpers/mount-contract.ts';
import { call, PASSWORD } from './helpers/server.ts';

// The example mounts Tessera before its own JSON body reader.
mountContract('koa', start);

describe('library mode: koa, with a body parser before Tessera', () => {
  it('uses the body the app’s parser read, within Tessera’s rules and limit', async () => {
    const engine = await createTestEngine();
    const app = new Koa();
    app.use(readJson);
    app.use(tesseraRoutes({ engine, prefix: '/api' }));
    const server = await listenOnLoopback(app);
    try {
      const reg = await call(server.url, 'POST', '/api/auth/register', {
        json: { email: 'parsed@example.com', password: PASSWORD },
      });
      assert.equal(reg.status, 201, reg.text);
      const extra = await call(server.url, 'POST', '/api/auth/login', {
        json: { email: 'parsed@example.com', password: PASSWORD, admin: true },
      });
      assert.equal(extra.status, 400);
      assert.equal(extra.body.field, 'admin');
      // No Content-Length: the parsed body's size still counts.
      const big = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(20_000) });
      assert.equal((await postChunked(`${server.url}/api/auth/login`, Buffer.from(big))).status, 413);
      // A form the JSON reader skipped: Tessera reads it itself.
      const token = await call(server.url, 'POST', '/api/oauth/token', {
        body: `grant_type=refresh_token&refresh_token=${reg.body.refresh_token}`,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(token.status, 200, token.text);
    } finally {
      await server.close();
    }
  });

  it('prefers the raw text a parser kept (ctx.request.rawBody), so RFC 6749 checks still apply', async () => {
    const engine = await createTestEngine();
    const app = new Koa();
    // Like @koa/bodyparser: a form parsed into an object (repeats collapsed), the text kept as rawBody.
    app.use(async (ctx, next) => {
      const chunks: Buffer[] = [];
      for await (const chunk of ctx.req as AsyncIterable<Buffer>) chunks.push(chunk);
      const text = Buffer.concat(chunks).toString();
      Object.assign(ctx.request, { rawBody: text, body: Object.fromEntries(new URLSearchParams(text)) });
      await next();
    });
    app.use(tesseraRoutes({ engine, prefix: '/api' }));
    const server = await listenOnLoopback(app);
    try {
      const repeated = await call(server.url, 'POST', '/api/oauth/token', {
        body: 'grant_type=refresh_token&grant_type=refresh_token&refresh_token=tsr_x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(repeated.status, 400);
      assert.equal(repeated.body.error, 'invalid_request');
      assert.match(repeated.body.error_description, /repeated/);
    } finally {
      await server.close();
    }
  });
});
