import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createReplayCache } from '@tessera/protocol';
import { cacheLifetimeMs } from './cache-lifetime.ts';
import { createRevocationSet } from './revocation-set.ts';
import { createTokenCache } from './token-cache.ts';

const claims = { sid: 's1', sub: 'u1', ver: 2, iat: 1000 };

describe('revocation set', () => {
  it('refuses by session, user version, user not-before and global not-before until each entry expires', () => {
    const set = createRevocationSet();
    assert.equal(set.reason(claims, 5000), null);
    set.apply({ type: 'session', sid: 's1', sub: 'u1', at_ms: 0, until_ms: 10_000 });
    assert.match(set.reason(claims, 5000) ?? '', /session/);
    assert.equal(set.reason(claims, 10_000), null, 'forgotten at until_ms');
    set.apply({ type: 'user', sub: 'u1', min_ver: 3, at_ms: 0, until_ms: 20_000 });
    assert.match(set.reason(claims, 15_000) ?? '', /outdated/);
    assert.equal(set.reason({ ...claims, ver: 3 }, 15_000), null);
    set.apply({ type: 'user', sub: 'u1', not_before_ms: 1_500_000, at_ms: 0, until_ms: 30_000 });
    assert.match(set.reason({ ...claims, ver: 3 }, 15_000) ?? '', /before/);
    set.apply({ type: 'global', not_before_ms: 2_000_000, at_ms: 0, until_ms: 40_000 });
    assert.match(set.reason({ ...claims, sub: 'u2', sid: 's2', iat: 1999 }, 35_000) ?? '', /emergency/);
    assert.equal(set.reason({ ...claims, sub: 'u2', sid: 's2', iat: 2000 }, 35_000), null);
    set.prune(50_000);
    assert.equal(set.size(), 0);
  });
});

describe('token cache', () => {
  it('returns entries until they expire and stays within its bound', () => {
    const cache = createTokenCache<number>(2);
    cache.set('a', { value: 1, expiresAtMs: 100 });
    cache.set('b', { value: 2, expiresAtMs: 100 });
    cache.set('c', { value: 3, expiresAtMs: 100 });
    assert.equal(cache.size(), 2);
    assert.equal(cache.get('a', 0), undefined, 'oldest evicted');
    assert.equal(cache.get('b', 99)?.value, 2);
    assert.equal(cache.get('b', 100), undefined, 'expired at expiresAtMs');
  });
});

describe('cache lifetime', () => {
  const bounds = { minMs: 30_000, maxMs: 3_600_000, defaultMs: 300_000 };
  const lifetime = (headers: Record<string, string>) => cacheLifetimeMs(new Headers(headers), bounds);
  it('follows max-age minus Age, within the floor and the ceiling', () => {
    assert.equal(lifetime({ 'cache-control': 'public, max-age=60' }), 60_000);
    assert.equal(lifetime({ 'cache-control': 'max-age=600', age: '100' }), 500_000);
    assert.equal(lifetime({ 'cache-control': 'max-age=5' }), 30_000, 'floor');
    assert.equal(lifetime({ 'cache-control': 'max-age=86400' }), 3_600_000, 'ceiling');
    assert.equal(lifetime({ 'cache-control': 'max-age=60', age: '3600' }), 30_000, 'an old copy: the floor');
  });
  it('treats no-store and no-cache as "fetch again soon", and a missing max-age as the default', () => {
    assert.equal(lifetime({ 'cache-control': 'no-store' }), 30_000);
    assert.equal(lifetime({ 'cache-control': 'private, no-cache, max-age=600' }), 30_000);
    assert.equal(lifetime({}), 300_000);
    assert.equal(lifetime({ 'cache-control': 's-maxage=600' }), 300_000, 's-maxage is for shared caches');
    assert.equal(lifetime({ 'cache-control': 'max-age=abc' }), 300_000);
  });
});

describe('DPoP replay cache', () => {
  it('remembers a proof id until it expires, sweeps expired ones, and stays within its bound', () => {
    const cache = createReplayCache(2);
    assert.equal(cache.seen('a', 100, 0), false);
    assert.equal(cache.seen('a', 100, 99), true, 'a replay within the window');
    assert.equal(cache.seen('a', 200, 100), false, 'forgotten at its expiry');
    assert.equal(cache.seen('b', 150, 100), false);
    assert.equal(cache.seen('c', 160, 100), false);
    assert.equal(cache.size(), 2, 'the oldest live id gave way');
    assert.equal(cache.seen('b', 150, 101), true);
    assert.equal(cache.seen('d', 300, 170), false);
    assert.equal(cache.size(), 1, 'expired ids swept on insert');
  });
});
