import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createVerifier, type Verifier } from '@tessera/verify';
import { listen as express } from '../examples/verify-express/server.ts';
import { listen as fastify } from '../examples/verify-fastify/server.ts';
import { listen as hono } from '../examples/verify-hono/server.ts';
import { listen as koa } from '../examples/verify-koa/server.ts';
import { listen as nestjs } from '../examples/verify-nestjs/server.ts';
import { freePort } from './helpers/child-server.ts';
import { call, PASSWORD, registerUser, startTestServer, type TestServer } from './helpers/server.ts';

const FRAMEWORKS = { express, koa, fastify, nestjs, hono };

let t: TestServer;
let soft: TestServer;
let verifier: Verifier;
let softVerifier: Verifier;
let broken: Verifier;
let user: Awaited<ReturnType<typeof registerUser>>;
let softUser: Awaited<ReturnType<typeof registerUser>>;

function verifierFor(server: TestServer): Verifier {
  return createVerifier({
    issuer: 'http://127.0.0.1:4000',
    audience: 'http://127.0.0.1:4000',
    jwksUrl: `${server.url}/.well-known/jwks.json`,
    revocationsUrl: `${server.url}/auth/revocations`,
    // Moving the server's clock makes the feed look stale; tokens are then introspected here.
    introspectionUrl: `${server.url}/oauth/introspect`,
    now: () => server.clock.now(),
  });
}

before(async () => {
  t = await startTestServer();
  soft = await startTestServer({
    TESSERA_POLICY: 'soft-expiry',
    TESSERA_ACCESS_TTL: '1h',
    TESSERA_SOFT_TTL: '10m',
  });
  verifier = verifierFor(t);
  softVerifier = verifierFor(soft);
  // Nothing listens at this issuer: discovery fails, and every request must say so with a 503.
  broken = createVerifier({
    issuer: `http://127.0.0.1:${await freePort()}`,
    audience: 'x',
    fetchTimeoutMs: 500,
  });
  await Promise.all([verifier.ready(), softVerifier.ready(), broken.ready().catch(() => undefined)]);
  user = await registerUser(t.url);
  softUser = await registerUser(soft.url);
});
after(async () => {
  await Promise.all([verifier.close(), softVerifier.close(), broken.close()]);
  await Promise.all([t.close(), soft.close()]);
});

describe('every framework subpath', () => {
  it('exports the same entry point, requireAuth, and nothing else but the NestJS decorator and guard', async () => {
    for (const name of Object.keys(FRAMEWORKS)) {
      const module = (await import(`@tessera/verify/${name}`)) as Record<string, unknown>;
      assert.equal(typeof module.requireAuth, 'function', name);
      const extras = Object.keys(module).filter((key) => key !== 'requireAuth');
      assert.deepEqual(extras.sort(), name === 'nestjs' ? ['Claims', 'TesseraAuthGuard'] : [], name);
    }
  });
});

for (const [framework, listen] of Object.entries(FRAMEWORKS)) {
  describe(`@tessera/verify/${framework}`, () => {
    const servers: Server[] = [];
    let url: string;
    let softUrl: string;
    let brokenUrl: string;
    const start = async (v: Verifier) => {
      const server = await listen(v, 0);
      servers.push(server);
      return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    };
    before(async () => {
      url = await start(verifier);
      softUrl = await start(softVerifier);
      brokenUrl = await start(broken);
    });
    after(async () => {
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
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
      assert.equal(
        none.headers.get('www-authenticate'),
        'Bearer realm="api", DPoP realm="api", algs="ES256 EdDSA Ed25519 RS256"',
      );
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

    it('refuses a soft-expired token the way the server does', async () => {
      assert.equal((await call(softUrl, 'GET', '/me', { token: softUser.access_token })).status, 200);
      soft.clock.advance(600_000 + 2_000); // past the soft expiry and the verifier's 2 s tolerance
      try {
        const refused = await call(softUrl, 'GET', '/me', { token: softUser.access_token });
        assert.equal(refused.status, 401);
        assert.equal(
          refused.headers.get('www-authenticate'),
          'Bearer realm="api", error="invalid_token", error_description="token_soft_expired"',
        );
        const server = await call(soft.url, 'GET', '/auth/me', { token: softUser.access_token });
        assert.equal(server.status, 401);
        assert.match(server.headers.get('www-authenticate') ?? '', /error_description="token_soft_expired"/);
      } finally {
        soft.clock.advance(-(600_000 + 2_000));
      }
    });

    it('asks for a recent authentication (RFC 9470) with maxAge, and passes once the user re-authenticated', async () => {
      const fresh = await registerUser(t.url);
      assert.equal((await call(url, 'GET', '/recent', { token: fresh.access_token })).status, 200);
      t.clock.advance(301_000); // the route takes 300 s; the token itself lives 600 s
      try {
        const old = await call(url, 'GET', '/recent', { token: fresh.access_token });
        assert.equal(old.status, 401, old.text);
        assert.match(
          old.headers.get('www-authenticate') ?? '',
          /^Bearer realm="api", error="insufficient_user_authentication", error_description="[^"]+", max_age=300$/,
        );
        assert.equal(old.body.error, 'insufficient_user_authentication');
        assert.equal(old.body.max_age, 300);
        assert.equal((await call(url, 'GET', '/me', { token: fresh.access_token })).status, 200);
        const reauth = await call(t.url, 'POST', '/auth/reauthenticate', {
          token: fresh.access_token,
          json: { password: PASSWORD },
        });
        assert.equal(reauth.status, 200, reauth.text);
        const passed = await call(url, 'GET', '/recent', { token: reauth.body.access_token });
        assert.equal(passed.status, 200, passed.text);
        assert.equal(passed.body.claims.auth_time, Math.floor(t.clock.now() / 1000));
        assert.deepEqual(passed.body.claims.amr, ['pwd']);
      } finally {
        t.clock.advance(-301_000);
      }
    });

    it('answers 503 (never "no known key") while the verifier could not set itself up', async () => {
      const response = await call(brokenUrl, 'GET', '/me', { token: user.access_token });
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('retry-after'), '5');
      assert.equal(response.body.error, 'temporarily_unavailable');
      assert.doesNotMatch(response.text, /known key|127\.0\.0\.1/, 'no internal detail to the caller');
    });
  });
}
