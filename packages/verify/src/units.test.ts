import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { describe, it } from 'node:test';
import { createJwksCache } from './jwks-cache.ts';
import { createRevocationSet } from './revocation-set.ts';
import { createSseParser } from './sse.ts';
import { createTokenCache } from './token-cache.ts';

const claims = { sid: 's1', sub: 'u1', ver: 2, iat: 1000 };

describe('revocation set', () => {
  it('refuses by session, user version, user not-before and global not-before until each entry expires', () => {
    const set = createRevocationSet();
    assert.equal(set.reason(claims, 5000), null);
    set.apply({ type: 'session', sid: 's1', until_ms: 10_000 });
    assert.match(set.reason(claims, 5000) ?? '', /session/);
    assert.equal(set.reason(claims, 10_000), null, 'forgotten at until_ms');
    set.apply({ type: 'user', sub: 'u1', min_ver: 3, until_ms: 20_000 });
    assert.match(set.reason(claims, 15_000) ?? '', /outdated/);
    assert.equal(set.reason({ ...claims, ver: 3 }, 15_000), null);
    set.apply({ type: 'user', sub: 'u1', not_before_ms: 1_500_000, until_ms: 30_000 });
    assert.match(set.reason({ ...claims, ver: 3 }, 15_000) ?? '', /before/);
    set.apply({ type: 'global', not_before_ms: 2_000_000, until_ms: 40_000 });
    assert.match(set.reason({ ...claims, sub: 'u2', sid: 's2', iat: 1999 }, 35_000) ?? '', /emergency/);
    assert.equal(set.reason({ ...claims, sub: 'u2', sid: 's2', iat: 2000 }, 35_000), null);
    set.prune(50_000);
    assert.equal(set.size(), 0);
  });
});

describe('token cache', () => {
  it('returns entries until they expire and stays within its bound', () => {
    const cache = createTokenCache<number>(2);
    cache.set('a', { claims: 1, expiresAtMs: 100 });
    cache.set('b', { claims: 2, expiresAtMs: 100 });
    cache.set('c', { claims: 3, expiresAtMs: 100 });
    assert.equal(cache.size(), 2);
    assert.equal(cache.get('a', 0), undefined, 'oldest evicted');
    assert.equal(cache.get('b', 99)?.claims, 2);
    assert.equal(cache.get('b', 100), undefined, 'expired at expiresAtMs');
  });
});

describe('server-sent events parser', () => {
  it('parses events split across chunks, with ids, comments and CRLF', () => {
    const parse = createSseParser();
    assert.deepEqual(parse('retry: 2000\n\n: comment\n\nid: 7-1\nevent: revo'), []);
    const events = parse('cation\r\ndata: {"a":1}\r\n\r\nevent: heartbeat\ndata: {}\n\n');
    assert.deepEqual(events, [
      { event: 'revocation', id: '7-1', data: '{"a":1}' },
      { event: 'heartbeat', id: undefined, data: '{}' },
    ]);
  });
});

describe('JWKS cache', () => {
  it('refetches on an unknown kid at most once per interval, ignoring keys of other algorithms', async () => {
    let fetches = 0;
    const server = createServer((_req, res) => {
      fetches += 1;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          keys: [
            {
              kty: 'OKP',
              crv: 'Ed25519',
              x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
              kid: 'k1',
              alg: 'EdDSA',
              use: 'sig',
            },
            { kty: 'oct', k: 'c2VjcmV0', kid: 'k2', alg: 'HS256' },
          ],
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    let now = 0;
    const jwks = createJwksCache({
      url: `http://127.0.0.1:${port}/`,
      algorithms: ['EdDSA'],
      fetch,
      now: () => now,
    });
    try {
      assert.equal((await jwks.get('k1'))?.alg, 'EdDSA');
      assert.equal(await jwks.get('k2'), null, 'HS256 is not allowed');
      await Promise.all([jwks.get('x'), jwks.get('y'), jwks.get('z')]);
      assert.equal(fetches, 1, 'misses within 10 s do not refetch');
      now = 10_000;
      assert.equal(await jwks.get('x'), null);
      assert.equal(fetches, 2);
    } finally {
      server.close();
    }
  });
});
