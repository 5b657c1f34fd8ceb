import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { makeUser, storeConformance } from '@tessera/core/testing';
import pg from 'pg';
import { MIGRATIONS } from './migrations.ts';
import { createPostgresStore } from './postgres-store.ts';
import { adminQuery, testPostgresProblem, TEST_POSTGRES_URL as URL } from './test-server.ts';

// Each test gets its own schema and drops it afterwards. Outside CI a missing server skips with a
// reason; under CI=true it fails.
const available = (await testPostgresProblem()) === null;

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
      cleanup: () => adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`),
    };
  });
}

if (available) {
  describe('postgres migrations', () => {
    it('upgrades a version-2 schema with its users and sessions intact', async () => {
      const schema = `upgrade_${randomBytes(6).toString('hex')}`;
      const client = new pg.Client({ connectionString: URL });
      await client.connect();
      try {
        await client.query(`CREATE SCHEMA ${schema};
          CREATE TABLE ${schema}.tessera_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`);
        for (const migration of MIGRATIONS.filter((m) => m.version <= 2)) {
          await client.query(migration.sql(schema));
          await client.query(`INSERT INTO ${schema}.tessera_migrations (version) VALUES ($1)`, [
            migration.version,
          ]);
        }
        await client.query(`INSERT INTO ${schema}.users (id, email, password_hash, token_version, roles, profile,
            disabled, reauth_required, totp_secret, created_at, updated_at, token_version_changed_at)
          VALUES ('u1', 'ada@example.com', 'hash', 2, '["admin"]', '{"name":"Ada"}', false, true, 'enc:totp', 10, 20, 20);
          INSERT INTO ${schema}.sessions (id, user_id, created_at, auth_time, last_seen_at, idle_expires_at,
            absolute_expires_at, ip, user_agent, device_name, amr, generation, rotated_at, salt)
          VALUES ('s1', 'u1', 10, 10, 10, 1000, 2000, '203.0.113.7', 'agent', 'Laptop', '["pwd"]', 3, 15, 'salt')`);
        const store = await createPostgresStore({ connectionString: URL, schema });
        try {
          const user = await store.findUserById('u1');
          assert.deepEqual(user, {
            id: 'u1',
            email: 'ada@example.com',
            emailVerified: false,
            passwordHash: 'hash',
            tokenVersion: 2,
            tokenVersionChangedAtMs: 20,
            roles: ['admin'],
            profile: { name: 'Ada' },
            disabled: false,
            reauthRequired: true,
            totpSecret: 'enc:totp',
            totpPendingSecret: null,
            totpLastStep: null,
            createdAtMs: 10,
            updatedAtMs: 20,
          });
          const session = await store.findSession('s1');
          assert.equal(session?.generation, 3);
          assert.equal(session?.acr, null);
          assert.equal(await store.createUser(makeUser({ email: null, passwordHash: null })), 'created');
          const { rows } = await client.query(`SELECT max(version) AS v FROM ${schema}.tessera_migrations`);
          assert.equal(rows[0]?.v, Math.max(...MIGRATIONS.map((m) => m.version)));
        } finally {
          await store.close();
        }
      } finally {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    });
  });
}
