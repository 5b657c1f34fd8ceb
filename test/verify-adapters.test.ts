import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createVerifier, type Verifier } from '@tessera/verify';
import { listen as express } from '../examples/verify-express/server.ts';
import { listen as fastify } from '../examples/verify-fastify/server.ts';
import { listen as koa } from '../examples/verify-koa/server.ts';
import { listen as nestjs } from '../examples/verify-nestjs/server.ts';
import { call, registerUser, startTestServer, type TestServer } from './helpers/server.ts';

let t: TestServer;
let verifier: Verifier;
let user: Awaited<ReturnType<typeof registerUser>>;

before(async () => {
  t = await startTestServer();
  verifier = createVerifier({
    issuer: 'http://127.0.0.1:4000',
    audience: 'http://127.0.0.1:4000',
    jwksUrl: `${t.url}/.well-known/jwks.json`,
    revocationsUrl: `${t.url}/auth/revocations`,
    now: () => t.clock.now(),
  });
  await verifier.ready();
  user = await registerUser(t.url);
});
after(async () => {
  await verifier.close();
  await t.close();
});

for (const [framework, listen] of Object.entries({ express, koa, fastify, nestjs })) {
  describe(`@tessera/verify/${framework}`, () => {
    let server: Server;
    let url: string;
    before(async () => {
      server = await listen(verifier, 0);
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    after(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('accepts a valid token and hands the claims to the route', async () => {
      const response = await call(url, 'GET', '/me', { token: user.access_token });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.framework, framework);
      assert.equal(response.body.claims.sid, user.session_id);
    });

    it('answers per RFC 6750: no token, malformed header, bad token', async () => {
      const none = await call(url, 'GET', '/me');
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="api"');
      const malformed = await call(url, 'GET', '/me', { headers: { authorization: 'Bearer a b c' } });
      assert.equal(malformed.status, 400);
      assert.match(malformed.headers.get('www-authenticate') ?? '', /error="invalid_request"/);
      const bad = await call(url, 'GET', '/me', { token: `${user.access_token.slice(0, -4)}AAAA` });
      assert.equal(bad.status, 401);
      assert.match(
        bad.headers.get('www-authenticate') ?? '',
        /^Bearer realm="api", error="invalid_token", error_description="[^"]+"$/,
      );
    });
  });
}
