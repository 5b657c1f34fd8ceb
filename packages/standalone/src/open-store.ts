import { createSqliteStore, type RateLimiter, type RevocationBus, type Store } from '@tessera/core';
import { importOptionalPeer } from './optional-peer.ts';

/**
 * Opens the store `databaseUrl` names: `sqlite:<path>` (the embedded default) or
 * `postgres://…` (PostgreSQL; an optional `?schema=name` query picks the schema, default `tessera`).
 * `@tessera/postgres` is an optional peer loaded only then; without it this throws an error naming
 * `TESSERA_DATABASE_URL` and the package. Opening applies pending schema migrations.
 */
export async function openStore(databaseUrl: string): Promise<Store> {
  if (databaseUrl.startsWith('sqlite:')) {
    return createSqliteStore({ path: databaseUrl.slice('sqlite:'.length) });
  }
  const url = new URL(databaseUrl);
  const schema = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  const { createPostgresStore } = await importOptionalPeer(
    '@tessera/postgres',
    'TESSERA_DATABASE_URL',
    () => import('@tessera/postgres'),
  );
  return createPostgresStore({ connectionString: url.toString(), ...(schema ? { schema } : {}) });
}

/** The Redis-backed revocation bus and rate limiter of a cluster, and how to close them. */
export interface SharedServices {
  bus: RevocationBus;
  rateLimiter: RateLimiter;
  close(): Promise<void>;
}

/**
 * Opens the revocation bus and rate limiter over Redis at `url` (`TESSERA_REDIS_URL`). `@tessera/redis`
 * is an optional peer loaded only then; without it this throws an error naming the setting and the package.
 */
export async function openRedis(url: string): Promise<SharedServices> {
  const { createRedisBus, createRedisRateLimiter } = await importOptionalPeer(
    '@tessera/redis',
    'TESSERA_REDIS_URL',
    () => import('@tessera/redis'),
  );
  const bus = createRedisBus({ url });
  const rateLimiter = createRedisRateLimiter({ url });
  return {
    bus,
    rateLimiter,
    async close() {
      await bus.close();
      await rateLimiter.close();
    },
  };
}
