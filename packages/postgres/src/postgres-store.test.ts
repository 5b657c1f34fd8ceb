import { randomBytes } from 'node:crypto';
import { storeConformance } from '@tessera/core/testing';
import { createPostgresStore } from './postgres-store.ts';
import { adminQuery, testPostgresProblem, TEST_POSTGRES_URL as URL } from './test-server.ts';

// Each test gets its own schema and drops it afterwards. Outside CI a missing server skips with a
// reason; under CI=true it fails.
if ((await testPostgresProblem()) === null) {
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
      cleanup: () => adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`),
    };
  });
}
