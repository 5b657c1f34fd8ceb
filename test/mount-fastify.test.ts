import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tesseraRoutes } from '@tessera/server/fastify';
import Fastify from 'fastify';
import { start } from '../examples/fastify-app/server.ts';
import { createTestEngine, mountContract, ORIGIN } from './helpers/mount-contract.ts';
import { call, PASSWORD } from './helpers/server.ts';

// The example registers Tessera as a plugin with { prefix: '/api' }.
mountContract('fastify', start);

describe('library mode: fastify, inside other host settings', () => {
  it('follows nested prefixes and the host’s router options; host hooks keep their own errors', async () => {
    const engine = await createTestEngine();
    const app = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
    app.addHook('onRequest', async (request) => {
      if (request.headers['x-blocked'])
        throw Object.assign(new Error('Blocked by the app.'), { statusCode: 401 });
    });
    await app.register(
      async (v1) => {
        await v1.register(tesseraRoutes({ engine }), { prefix: '/identity' });
      },
      { prefix: '/v1' },
    );
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const reg = await call(url, 'POST', '/v1/identity/auth/register/', {
        json: { email: 'nested@example.com', password: PASSWORD },
        headers: { origin: ORIGIN },
      });
      assert.equal(reg.status, 201, reg.text);
      assert.match(reg.headers.getSetCookie().join(''), /Path=\/v1\/identity\/auth;/);
      const meta = await call(url, 'GET', '/v1/identity/.well-known/oauth-authorization-server');
      assert.equal(meta.body.token_endpoint, `${ORIGIN}/v1/identity/oauth/token`);
      const blocked = await call(url, 'POST', '/v1/identity/auth/login', {
        json: { email: 'nested@example.com', password: PASSWORD },
        headers: { 'x-blocked': '1' },
      });
      assert.equal(blocked.status, 401);
      assert.equal(blocked.body.message, 'Blocked by the app.');
    } finally {
      await app.close();
    }
  });
});
