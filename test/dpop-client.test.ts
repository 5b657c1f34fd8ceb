import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createTesseraClient } from '@tessera/client';
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
