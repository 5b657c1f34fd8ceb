import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { createJwksCache, type JwksCacheOptions } from './jwks-cache.ts';

/** A JWKS endpoint whose keys, Cache-Control and behaviour the test changes as it goes. */
interface JwksServer {
  url: string;
  keys: JWK[];
  cacheControl: string;
  /** `ok`: answer; `hang`: accept the request and never answer; `fail`: 500. */
  mode: 'ok' | 'hang' | 'fail';
  requests: number;
  close(): Promise<void>;
}

async function startJwksServer(): Promise<JwksServer> {
  const state = { keys: [] as JWK[], cacheControl: 'public, max-age=60', mode: 'ok', requests: 0 };
  const server: Server = createServer((_req, res) => {
    state.requests += 1;
    if (state.mode === 'hang') return;
    if (state.mode === 'fail') {
      res.writeHead(500).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': state.cacheControl });
    res.end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/jwks.json`,
    mode: 'ok' as JwksServer['mode'],
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}

async function publicJwk(kid: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  return { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
}

let jwks: JwksServer;
let clock = 0;
const k1 = await publicJwk('k1');
const k2 = await publicJwk('k2');
const k3 = await publicJwk('k3');

function cache(overrides: Partial<JwksCacheOptions> = {}) {
  return createJwksCache({
    url: jwks.url,
    algorithms: ['EdDSA'],
    fetch,
    now: () => clock,
    timeoutMs: 2000,
    lifetime: { minMs: 30_000, maxMs: 3_600_000, defaultMs: 300_000 },
    cooldownMs: 10_000,
    ...overrides,
  });
}

describe('JWKS cache', () => {
  before(async () => {
    jwks = await startJwksServer();
  });
  after(async () => {
    await jwks.close();
  });

  it('refetches when the max-age runs out and drops a key that left the JWKS', async () => {
    Object.assign(jwks, { keys: [k1, k2], cacheControl: 'public, max-age=60', mode: 'ok', requests: 0 });
    clock = 1_000_000;
    const keys = cache();
    try {
      await keys.load();
      const second = await keys.get('k2');
      assert.equal((await keys.get('k1'))?.alg, 'EdDSA');
      jwks.keys = [k2];
      clock += 59_999;
      assert.ok(await keys.get('k1'), 'still within max-age: no fetch');
      assert.equal(jwks.requests, 1);
      clock += 1;
      assert.equal(await keys.get('k1'), null, 'gone once the max-age ran out');
      assert.equal(jwks.requests, 2);
      assert.equal(
        await keys.get('k2'),
        second,
        'an unchanged key keeps its object (cached tokens stay valid)',
      );
      assert.equal(keys.status().keys, 1);
      assert.equal(keys.status().lastError, null);
    } finally {
      keys.close();
    }
  });

  it('holds the JWKS at least the floor and at most the ceiling, whatever max-age says', async () => {
    for (const [cacheControl, expectedMs] of [
      ['max-age=0', 30_000],
      ['no-store', 30_000],
      ['max-age=31536000', 3_600_000],
    ] as const) {
      Object.assign(jwks, { keys: [k1], cacheControl, mode: 'ok', requests: 0 });
      const keys = cache();
      try {
        await keys.load();
        clock += expectedMs - 1;
        await keys.get('k1');
        assert.equal(jwks.requests, 1, `${cacheControl}: no fetch before ${expectedMs} ms`);
        clock += 1;
        await keys.get('k1');
        assert.equal(jwks.requests, 2, `${cacheControl}: fetched again at ${expectedMs} ms`);
      } finally {
        keys.close();
      }
    }
  });

  it('refetches on an unknown kid at most once per cooldown, ignoring keys of other algorithms', async () => {
    Object.assign(jwks, {
      keys: [k1, { kty: 'oct', k: 'c2VjcmV0', kid: 'h1', alg: 'HS256' }],
      cacheControl: 'max-age=600',
      mode: 'ok',
      requests: 0,
    });
    const keys = cache();
    try {
      await keys.load();
      assert.equal(await keys.get('h1'), null, 'HS256 is not allowed');
      assert.equal(jwks.requests, 1, 'an unknown kid right after a fetch waits for the cooldown');
      clock += 10_000;
      await Promise.all([keys.get('x'), keys.get('y'), keys.get('z')]);
      assert.equal(jwks.requests, 2, 'three unknown kids, one fetch');
      await keys.get('w');
      assert.equal(jwks.requests, 2, 'no other fetch within the cooldown');
      jwks.keys = [k1, k3];
      clock += 10_000;
      assert.ok(await keys.get('k3'), 'a new key is found after the cooldown');
      assert.equal(jwks.requests, 3);
    } finally {
      keys.close();
    }
  });

  it('when the JWKS hangs: known keys keep verifying, an unknown kid fails within the timeout, fetches never pile up', async () => {
    Object.assign(jwks, { keys: [k1], cacheControl: 'max-age=60', mode: 'ok', requests: 0 });
    const timeoutMs = 300;
    const keys = cache({ timeoutMs });
    try {
      await keys.load();
      jwks.mode = 'hang';
      clock += 60_000;
      const started = performance.now();
      const known = await Promise.all(Array.from({ length: 20 }, () => keys.get('k1')));
      assert.ok(
        known.every((key) => key?.kid === 'k1'),
        'known keys still verify',
      );
      assert.ok(performance.now() - started < timeoutMs + 2000, 'bounded by the timeout');
      assert.equal(jwks.requests, 2, 'one fetch for twenty callers');
      assert.match(keys.status().lastError ?? '', /timed out after 300 ms/);

      // While the JWKS keeps failing, a known key no longer waits for the retries.
      clock += 10_000;
      const order: string[] = [];
      const unknown = keys.get('k9').then((key) => {
        order.push('unknown');
        return key;
      });
      const again = keys.get('k1').then((key) => {
        order.push('known');
        return key;
      });
      assert.equal((await again)?.kid, 'k1');
      const unknownStarted = performance.now();
      assert.equal(await unknown, null, 'an unknown kid fails once the fetch times out');
      assert.ok(performance.now() - unknownStarted < timeoutMs + 2000);
      assert.deepEqual(order, ['known', 'unknown']);
      assert.equal(jwks.requests, 3, 'still one fetch at a time');

      // The endpoint recovers: the next fetch takes the new set.
      Object.assign(jwks, { mode: 'ok', keys: [k3] });
      clock += 10_000;
      assert.ok(await keys.get('k3'));
      assert.equal(await keys.get('k1'), null, 'k1 left the set meanwhile');
      assert.equal(keys.status().lastError, null);
    } finally {
      keys.close();
    }
  });

  it('reports a failed first load with the URL and what it answered', async () => {
    Object.assign(jwks, { mode: 'fail', requests: 0 });
    const keys = cache();
    try {
      await assert.rejects(keys.load(), new RegExp(`GET ${jwks.url} answered 500`));
      assert.equal(keys.status().ageMs, Number.POSITIVE_INFINITY);
    } finally {
      keys.close();
    }
  });
});
