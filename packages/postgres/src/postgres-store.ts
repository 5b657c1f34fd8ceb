import type { Store } from '@tessera/core';
import { StoreUnavailableError } from '@tessera/core';
import pg from 'pg';
import { MIGRATIONS } from './migrations.ts';
import { createPostgresContext } from './postgres-context.ts';
import { toStoreError } from './postgres-errors.ts';
import { postgresOutboxMethods } from './postgres-outbox.ts';
import { isDeadlock, postgresRotationSender } from './postgres-rotations.ts';
import { PG_TYPES } from './postgres-rows.ts';
import { postgresSessionMethods } from './postgres-sessions.ts';
import { postgresUserMethods } from './postgres-users.ts';
import { createRotationBatcher } from './rotation-batch.ts';

/** Options of {@link createPostgresStore}. */
export interface PostgresStoreOptions {
  /** A `postgres://` connection string. */
  connectionString: string;
  /** Schema holding Tessera's tables (created if missing). Default `tessera`. */
  schema?: string;
  /** Pool size. Default 10. */
  maxConnections?: number;
  /** Apply pending migrations when opening. Default true. */
  migrate?: boolean;
  /**
   * How long one store call may take, waiting for a pooled connection (and, for a refresh, for its
   * batch to go out) included, before it fails as unavailable (503) and any statement it left
   * unanswered has its connection dropped: a frozen database must not hold requests. Also set as the
   * server's `statement_timeout`. Migrations are not bounded. Default 3000 ms.
   */
  queryTimeoutMs?: number;
  /** How long opening a connection may take. Default 2000 ms. */
  connectTimeoutMs?: number;
  /**
   * Most refreshes (`rotateSessionInOneStep` calls) sent as one statement: calls made in one event-loop
   * turn, or while earlier batches are in flight, share one round trip and one commit, each still its
   * own compare-and-set. 1 sends each call alone. Default 64.
   */
  rotationBatchSize?: number;
  /**
   * Most refresh batches in flight at once; calls arriving meanwhile wait for the next one. Default 4
   * (never more than `maxConnections`).
   */
  rotationBatchesInFlight?: number;
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`Invalid PostgreSQL store option ${name}: expected a positive integer.`);
  return value;
}

/**
 * What {@link migratePostgres} needs of a connection: `query`, as a `pg` client has it. Stated here so
 * the published declarations do not need `pg`'s types.
 */
export interface MigrationClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/**
 * Applies pending migrations under a transaction-scoped advisory lock, so several instances starting
 * at once migrate exactly once. `client` is one connection (a `pg` `PoolClient` or `Client`), never a
 * pool: the migration is one transaction. Returns the schema version.
 */
export async function migratePostgres(client: MigrationClient, schema: string): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tessera-migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.tessera_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query(
      `SELECT coalesce(max(version), 0) AS v FROM ${schema}.tessera_migrations`,
    );
    let version = Number(rows[0]?.v ?? 0);
    for (const migration of MIGRATIONS) {
      if (migration.version <= version) continue;
      await client.query(migration.sql(schema));
      await client.query(`INSERT INTO ${schema}.tessera_migrations (version) VALUES ($1)`, [
        migration.version,
      ]);
      version = migration.version;
    }
    await client.query('COMMIT');
    return version;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Creates a {@link Store} over PostgreSQL with a connection pool. Rotation is one conditional
 * `UPDATE … WHERE generation = $n`, so concurrent refreshes at different instances rotate once;
 * one-step rotations arriving together share one statement (see `rotationBatchSize`), each still its
 * own compare-and-set, none answered before that statement commits;
 * multi-row writes run in one transaction with the outbox events they emit; `claimOutbox` uses
 * `FOR UPDATE SKIP LOCKED`, so several instances never lease one event at once. A full disk
 * (`53100`) rejects with {@link StorageFullError}; outages surface as {@link StoreUnavailableError}
 * (HTTP 503) and the pool reconnects by itself.
 * @example
 * const store = await createPostgresStore({ connectionString: 'postgres://127.0.0.1/tessera' });
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schema = options.schema ?? 'tessera';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`Invalid PostgreSQL schema name "${schema}".`);
  const queryTimeoutMs = options.queryTimeoutMs ?? 3000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  const maxConnections = options.maxConnections ?? 10;
  const rotationBatchSize = positiveInteger('rotationBatchSize', options.rotationBatchSize ?? 64);
  const rotationBatchesInFlight = Math.min(
    positiveInteger('rotationBatchesInFlight', options.rotationBatchesInFlight ?? 4),
    maxConnections,
  );
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: maxConnections,
    connectionTimeoutMillis: connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    query_timeout: queryTimeoutMs,
    statement_timeout: queryTimeoutMs,
    types: PG_TYPES,
  });
  // An idle client losing its connection (a database restart) must not crash the process.
  pool.on('error', () => undefined);

  if (options.migrate ?? true) {
    // A connection of its own, without the query timeout: a migration may rewrite a large table.
    const client = new pg.Client({
      connectionString: options.connectionString,
      connectionTimeoutMillis: connectTimeoutMs,
      types: PG_TYPES,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new StoreUnavailableError(error);
    }
    try {
      await migratePostgres(client, schema);
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw toStoreError(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  const ctx = createPostgresContext(pool, schema, queryTimeoutMs);
  const s = schema;
  const sessions = postgresSessionMethods(ctx);
  const rotations = createRotationBatcher({
    maxBatchSize: rotationBatchSize,
    maxInFlight: rotationBatchesInFlight,
    timeoutMs: queryTimeoutMs,
    send: postgresRotationSender(ctx),
    retryAlone: isDeadlock,
  });
  return {
    capabilities: { durable: true, multiProcess: true },
    ...postgresUserMethods(ctx),
    ...sessions,
    rotateSessionInOneStep: (id, fromGeneration, update) => rotations.rotate(id, fromGeneration, update),
    ...postgresOutboxMethods(ctx),
    ping: (pingOptions = {}) =>
      pingOptions.write
        ? ctx.run(async (db) => {
            // A counter, so every heartbeat is a real write that must reach the WAL.
            await db.query(
              `INSERT INTO ${s}.meta (key, value) VALUES ('heartbeat', '1')
               ON CONFLICT (key) DO UPDATE SET value = (${s}.meta.value::bigint + 1)::text`,
            );
          })
        : ctx.run(async (db) => {
            await db.query('SELECT 1');
          }),
    async close() {
      // Refreshes already accepted are sent and answered (or rejected) before the pool ends.
      await rotations.close();
      await pool.end().catch(() => undefined);
    },
  };
}
