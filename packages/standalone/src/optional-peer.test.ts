import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { importOptionalPeer } from './optional-peer.ts';

describe('optional peers', () => {
  it('name the setting and the package when the package is not installed', async () => {
    await assert.rejects(
      // A package that is not installed anywhere: the same error a SQLite-only install gives for the driver.
      importOptionalPeer(
        '@tessera/not-installed',
        'TESSERA_REDIS_URL',
        () => import('@tessera/not-installed' as string),
      ),
      /^Error: TESSERA_REDIS_URL needs the package @tessera\/not-installed: install it \(npm install @tessera\/not-installed\)\.$/,
    );
  });

  it('load an installed one, and pass other failures through', async () => {
    const redis = await importOptionalPeer(
      '@tessera/redis',
      'TESSERA_REDIS_URL',
      () => import('@tessera/redis'),
    );
    assert.equal(typeof redis.createRedisBus, 'function');
    await assert.rejects(
      importOptionalPeer('x', 'S', () => Promise.reject(new TypeError('boom'))),
      TypeError,
    );
  });
});
