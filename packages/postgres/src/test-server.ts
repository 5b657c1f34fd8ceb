// For this package's tests only: the PostgreSQL they run against.
import pg from 'pg';
import { createPostgresContext } from './postgres-context.ts';
import { postgresRotationSender } from './postgres-rotations.ts';
import { PG_TYPES } from './postgres-rows.ts';
import { createRotationBatcher, type RotationBatcher } from './rotation-batch.ts';

/** The local PostgreSQL every machine of this project runs (trust auth); tests make their own schemas. */
export const TEST_POSTGRES_URL: string =
  process.env.TESSERA_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * Why the test server cannot be used, or `null`. Under `CI=true` a missing server throws (a test
 * needing PostgreSQL must fail there); elsewhere the reason is printed and the caller skips.
 */
export async function testPostgresProblem(): Promise<string | null> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return null;
  } catch {
    const problem = `PostgreSQL is not reachable at ${TEST_POSTGRES_URL}`;
    if (process.env.CI === 'true') throw new Error(`CI requires ${problem}`);
    process.stdout.write(`# skipped: ${problem}\n`);
    return problem;
  }
}

/** Runs one statement on its own connection (DDL a store does not run: tablespaces, dropping schemas). */
export async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * Counts the queries `pg` sends while `work` runs (every client of every pool in this process): each
 * is one round trip, since node-postgres does not pipeline.
 */
export async function countQueries<T>(work: () => Promise<T>): Promise<{ queries: number; value: T }> {
  const original = pg.Client.prototype.query;
  let queries = 0;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    queries += 1;
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    return { value: await work(), queries };
  } finally {
    pg.Client.prototype.query = original;
  }
}

/**
 * An instance's batcher without the deadlock retry, over its own pool (batches of at most 16, four in
 * flight) on `connectionString`: a deadlock would reject.
 */
export function bareRotationInstance(
  schema: string,
  connectionString: string = TEST_POSTGRES_URL,
): { batcher: RotationBatcher; end: () => Promise<void> } {
  const pool = new pg.Pool({ connectionString, max: 4, types: PG_TYPES });
  const ctx = createPostgresContext(pool, schema, 3000);
  const batcher = createRotationBatcher({
    maxBatchSize: 16,
    maxInFlight: 4,
    timeoutMs: 3000,
    send: postgresRotationSender(ctx),
  });
  return {
    batcher,
    end: async () => {
      await batcher.close();
      await pool.end();
    },
  };
}
