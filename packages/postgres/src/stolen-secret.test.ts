// docs/security.md's response to a stolen TESSERA_SECRET, on PostgreSQL: the statement it gives
// (`DELETE FROM tessera.signing_keys;`, here in the test's own schema) lets an engine start on a new
// secret, and no token of the old one works. Outside CI a missing server skips with a reason; under
// CI=true it fails.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { createManualClock, isTesseraError } from '@tessera/core';
import { createEngineFixture, must } from '@tessera/core/testing';
import { createPostgresStore } from './postgres-store.ts';
import { adminQuery, testPostgresProblem, TEST_POSTGRES_URL as URL } from './test-server.ts';

const problem = await testPostgresProblem();
const PASSWORD = 'correct horse battery staple';

async function refused(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isTesseraError(error) && error.code === code);
}

describe('a stolen secret on PostgreSQL', { skip: problem ?? false }, () => {
  it('the response to a stolen secret: delete the sealed keys, start on a new secret, revoke all', async () => {
    const schema = `stolen_secret_${randomBytes(6).toString('hex')}`;
    const clock = createManualClock();
    try {
      const store = await createPostgresStore({ connectionString: URL, schema });
      const old = await createEngineFixture({ store, clock });
      const tokens = await old.engine.register({ email: 'ada@example.com', password: PASSWORD });
      await old.engine.close();
      await store.close();
      const secret = new Uint8Array(32).fill(7);
      // A new secret alone: the engine refuses to start on keys it cannot open.
      const unchanged = await createPostgresStore({ connectionString: URL, schema });
      await assert.rejects(
        createEngineFixture({ store: unchanged, clock, secret }),
        /TESSERA_SECRET differs/,
      );
      await unchanged.close();
      await adminQuery(`DELETE FROM ${schema}.signing_keys`);
      const reopened = await createPostgresStore({ connectionString: URL, schema });
      const next = await createEngineFixture({ store: reopened, clock, secret });
      await refused(next.engine.authenticate(tokens.accessToken), 'invalid_token');
      await refused(next.engine.refresh({ refreshToken: must(tokens.refreshToken) }), 'invalid_grant');
      await next.engine.emergencyRevokeAll();
      clock.advance(1000);
      const login = await next.engine.login({ email: 'ada@example.com', password: PASSWORD });
      await next.engine.authenticate(login.accessToken);
      await next.engine.close();
      await reopened.close();
    } finally {
      await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    }
  });
});
