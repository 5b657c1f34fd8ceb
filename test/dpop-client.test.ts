import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTesseraClient, type SessionPolicy } from '@tessera/client';
import { decodeJwt } from 'jose';
import { freePort } from './helpers/child-server.ts';
import { PASSWORD, startTestServer, type TestServer } from './helpers/server.ts';

// @tessera/client with `dpop: true` in Node (WebCrypto, a key in memory) against a real server over
// loopback that asks for server nonces (RFC 9449 §8): every request it makes is proven, and each
// `use_dpop_nonce` costs exactly one retry.

let t: TestServer;

describe('@tessera/client dpop in Node against TESSERA_DPOP_NONCE=on', () => {
  before(async () => {
    const port = await freePort();
    t = await startTestServer(
      { TESSERA_PORT: String(port), TESSERA_ISSUER: `http://127.0.0.1:${port}`, TESSERA_DPOP_NONCE: 'on' },
      { realClock: true },
    );
  });
  after(() => t?.close());

  it('registers, refreshes and calls a bearer route with proofs, retrying once per nonce it lacks', async () => {
    const sent: Array<{ path: string; status: number; nonce: boolean }> = [];
    const client = createTesseraClient({
      baseUrl: t.url,
      transport: 'body',
      dpop: true,
      fetch: async (input, init) => {
        const response = await fetch(input, init);
        const proof = new Headers(init?.headers).get('dpop') ?? '';
        const payload = proof ? decodeJwt(proof) : {};
        sent.push({
          path: new URL(String(input)).pathname,
          status: response.status,
          nonce: 'nonce' in payload,
        });
        return response;
      },
    });
    try {
      await client.register(`node-dpop${Date.now()}@example.com`, PASSWORD);
      const token = await client.getAccessToken();
      assert.ok(token);
      const jkt = (decodeJwt(token).cnf as { jkt?: string } | undefined)?.jkt;
      assert.ok(jkt, 'the session is bound');
      assert.equal(await client.refresh(), true);
      const me = await client.fetch(`${t.url}/auth/me`);
      assert.equal(me.status, 200);
      const renewed = await client.getAccessToken();
      assert.equal(
        (decodeJwt(renewed ?? '').cnf as { jkt: string }).jkt,
        jkt,
        'the same key after the refresh',
      );
      assert.deepEqual(sent, [
        { path: '/auth/register', status: 400, nonce: false },
        { path: '/auth/register', status: 201, nonce: true },
        { path: '/auth/refresh', status: 200, nonce: true },
        { path: '/auth/me', status: 200, nonce: true },
      ]);
      assert.ok(!t.events.some((e) => e.type === 'session.dpop_mismatch'));
    } finally {
      client.close();
    }
  });
});

describe('@tessera/client dpop under every policy, against a real server', () => {
  // Each policy's renewal, proven with the session's key: the client's clocks (monotonic, and the
  // proofs' wall clock) follow the server's manual clock, so renewals come from the test's calls.
  const cases: Array<[SessionPolicy, Record<string, string>, number]> = [
    ['rotating-refresh', { TESSERA_ACCESS_TTL: '10m' }, 481_000],
    ['soft-expiry', { TESSERA_ACCESS_TTL: '1h', TESSERA_SOFT_TTL: '10m' }, 600_000],
    ['sliding-single-token', { TESSERA_ACCESS_TTL: '10m' }, 400_000],
    ['expired-token-exchange', { TESSERA_ACCESS_TTL: '5m' }, 301_000],
    ['long-lived-token', { TESSERA_REFRESH_IDLE_TTL: '7d' }, 86_400_000],
  ];
  for (const [policy, env, advanceMs] of cases) {
    it(`${policy}: the session is bound, renews with proofs by its key, and its tokens work as DPoP`, async () => {
      const port = await freePort();
      // The issuer is the URL clients address: the server checks a proof's htu against it.
      const server = await startTestServer({
        TESSERA_PORT: String(port),
        TESSERA_ISSUER: `http://127.0.0.1:${port}`,
        TESSERA_POLICY: policy,
        TESSERA_REFRESH_ABSOLUTE_TTL: '30d',
        ...(policy === 'long-lived-token' ? {} : { TESSERA_REFRESH_IDLE_TTL: '1h' }),
        ...env,
      });
      const client = createTesseraClient({
        baseUrl: server.url,
        policy,
        transport: 'body',
        now: () => server.clock.now(),
        dpop: { now: () => server.clock.now() },
      });
      try {
        await client.register(`${policy}${Math.random().toString(36).slice(2)}@example.com`, PASSWORD);
        const first = await client.getAccessToken();
        const jkt = (decodeJwt(first ?? '').cnf as { jkt?: string } | undefined)?.jkt;
        assert.ok(jkt, 'bound at registration');
        const me = async () => (await client.fetch(`${server.url}/auth/me`)).status;
        assert.equal(await me(), 200);
        server.clock.advance(advanceMs);
        assert.equal(await me(), 200);
        const later = await client.getAccessToken();
        if (policy !== 'long-lived-token') assert.notEqual(later, first, 'renewed');
        assert.equal((decodeJwt(later ?? '').cnf as { jkt?: string } | undefined)?.jkt, jkt);
        assert.equal(await me(), 200);
        assert.ok(
          !server.events.some((e) => e.type === 'session.dpop_mismatch' || e.type === 'session.revoked'),
        );
      } finally {
        client.close();
        await server.close();
      }
    });
  }
});
