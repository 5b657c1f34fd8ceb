import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tesseraRoutes } from '@tessera/server/express';
import express, { type ErrorRequestHandler } from 'express';
import { start } from '../examples/express-app/server.ts';
import { createTestEngine, listenOnLoopback, mountContract, postChunked } from './helpers/mount-contract.ts';
import { call, PASSWORD } from './helpers/server.ts';

// The example mounts express.json() before Tessera, as an existing app has it.
mountContract('express', start);

describe('library mode: express, other ways to mount', () => {
  it('reads its own bodies when mounted before the app’s parser, which keeps working', async () => {
    const engine = await createTestEngine();
    const app = express();
    app.use(tesseraRoutes({ engine, prefix: '/api' }));
    app.use(express.json());
    app.post('/api/echo', (req, res) => {
      res.json({ echo: req.body });
    });
    const server = await listenOnLoopback(app);
    try {
      const reg = await call(server.url, 'POST', '/api/auth/register', {
        json: { email: 'first@example.com', password: PASSWORD },
      });
      assert.equal(reg.status, 201, reg.text);
      const malformed = await call(server.url, 'POST', '/api/auth/login', {
        body: '{"email":',
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(malformed.status, 400);
      assert.equal(malformed.body.error, 'invalid_request');
      const big = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(20_000) });
      assert.equal((await postChunked(`${server.url}/api/auth/login`, Buffer.from(big))).status, 413);
      const echo = await call(server.url, 'POST', '/api/echo', { json: { a: 1 } });
      assert.deepEqual(echo.body, { echo: { a: 1 } });
    } finally {
      await server.close();
    }
  });

  it('uses a form express.urlencoded() parsed, and answers its parser errors on Tessera paths only', async () => {
    const engine = await createTestEngine();
    const app = express();
    app.use(express.urlencoded({ limit: '1mb' }));
    app.use(tesseraRoutes({ engine, prefix: '/api' }));
    app.use(((_error, _req, res, _next) => {
      res.status(418).json({ from: 'app' });
    }) satisfies ErrorRequestHandler);
    const server = await listenOnLoopback(app);
    try {
      const reg = await call(server.url, 'POST', '/api/auth/register', {
        json: { email: 'form@example.com', password: PASSWORD },
      });
      const form = (body: string, path = '/api/oauth/token') =>
        call(server.url, 'POST', path, {
          body,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        });
      const token = await form(`grant_type=refresh_token&refresh_token=${reg.body.refresh_token}`);
      assert.equal(token.status, 200, token.text);
      // Past express.urlencoded()'s own limit (here 1 MB) the parser fails: Tessera's 413 on its path…
      const huge = await form(`grant_type=${'x'.repeat(1_100_000)}`);
      assert.equal(huge.status, 413);
      assert.equal(huge.body.error, 'payload_too_large');
      // …and the app's error handler everywhere else.
      const elsewhere = await form(`a=${'x'.repeat(1_100_000)}`, '/api/orders');
      assert.equal(elsewhere.status, 418);
    } finally {
      await server.close();
    }
  });

  it('works inside app.use(path, …) with the full prefix, and says so when the prefix is missing', async () => {
    const engine = await createTestEngine();
    const errors: string[] = [];
    const app = express();
    app.use('/api', tesseraRoutes({ engine, prefix: '/api' }));
    app.use('/v2', tesseraRoutes({ engine }));
    app.use(((error, _req, res, _next) => {
      errors.push(String(error.message));
      res.status(500).end();
    }) satisfies ErrorRequestHandler);
    const server = await listenOnLoopback(app);
    try {
      const reg = await call(server.url, 'POST', '/api/auth/register', {
        json: { email: 'router@example.com', password: PASSWORD },
        headers: { origin: 'http://127.0.0.1:3000' },
      });
      assert.equal(reg.status, 201, reg.text);
      assert.match(reg.headers.getSetCookie().join(''), /Path=\/api\/auth;/);
      const misconfigured = await call(server.url, 'GET', '/v2/.well-known/jwks.json');
      assert.equal(misconfigured.status, 500);
      assert.match(errors[0] ?? '', /mounted at \/v2: pass the full path as its prefix option/);
    } finally {
      await server.close();
    }
  });
});
