import { randomBytes } from 'node:crypto';
import { storeConformance } from '@tessera/core/testing';
import pg from 'pg';
import { createPostgresStore } from './postgres-store.ts';

// The local PostgreSQL every machine of this project runs (trust auth). Each test gets its own schema
// and drops it afterwards. Outside CI a missing server skips with a reason; under CI=true it fails.
const URL = process.env.TESSERA_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function reachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

const available = await reachable();
if (!available && process.env.CI === 'true') throw new Error(`CI requires PostgreSQL at ${URL}`);
if (!available) process.stdout.write(`# skipped: PostgreSQL is not reachable at ${URL}\n`);

if (available) {
  storeConformance('postgres', async () => {
    const schema = `conformance_${randomBytes(6).toString('hex')}`;
    return {
      store: await createPostgresStore({ connectionString: URL, schema }),
      reopen: () => createPostgresStore({ connectionString: URL, schema }),
      // Other pools over the same schema: the suite's races then run on separate connections, as
      // several instances would.
      peers: (count) =>
        Promise.all(
          Array.from({ length: count }, () =>
            createPostgresStore({ connectionString: URL, schema, migrate: false, maxConnections: 4 }),
          ),
        ),
      async cleanup() {
        const client = new pg.Client({ connectionString: URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      },
    };
  });
}
