import { start } from '../examples/express-app/server.ts';
import { mountContract } from './helpers/mount-contract.ts';

mountContract('express', start, { echo: true });

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createEngine, createMemoryStore } from '@tessera/core';
import { tesseraRoutes } from '@tessera/server/express';
import express from 'express';
import { call, PASSWORD, TEST_ARGON2 } from './helpers/server.ts';

it('express: works when the app’s JSON parser runs before Tessera', async () => {
  const engine = await createEngine({
    store: createMemoryStore(),
    secret: new Uint8Array(32).fill(3),
    issuer: 'http://127.0.0.1:3000',
    argon2: TEST_ARGON2,
    rateLimits: false,
  });
  const app = express();
  app.use(express.json());
  app.use(tesseraRoutes({ engine, prefix: '/api' }));
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  try {
    const reg = await call(url, 'POST', '/api/auth/register', {
      json: { email: 'parsed@example.com', password: PASSWORD },
    });
    assert.equal(reg.status, 201, reg.text);
    const extra = await call(url, 'POST', '/api/auth/login', {
      json: { email: 'parsed@example.com', password: PASSWORD, admin: true },
    });
    assert.equal(extra.status, 400);
    assert.equal(extra.body.error, 'invalid_request');
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
});
