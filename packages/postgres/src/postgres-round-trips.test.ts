import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Store } from '@tessera/core';
import { createEngineFixture, must } from '@tessera/core/testing';
import { createPostgresStore } from './postgres-store.ts';
import { adminQuery, countQueries, testPostgresProblem, TEST_POSTGRES_URL as URL } from './test-server.ts';

// Round trips per refresh, counted as the queries the pool's clients send (every pg query is one
// round trip; none is pipelined; concurrent refreshes share one statement). Outside CI a missing server skips with a reason; under CI=true it fails.
const available = (await testPostgresProblem()) === null;

/** Round trips per refresh over `store`, from `refreshes` refreshes of one session. */
async function roundTripsPerRefresh(store: Store, refreshes: number): Promise<number> {
  const { engine } = await createEngineFixture({ store });
  try {
    const user = await engine.createUser({ email: `${randomBytes(6).toString('hex')}@example.com` });
    let token = must((await engine.startSession({ userId: user.id, amr: ['ext'] })).refreshToken);
    // The first refresh reads the signing key; later ones find it in memory.
    token = must((await engine.refresh({ refreshToken: token })).refreshToken);
    const { queries } = await countQueries(async () => {
      for (let i = 0; i < refreshes; i += 1)
        token = must((await engine.refresh({ refreshToken: token })).refreshToken);
    });
    return queries / refreshes;
  } finally {
    await engine.close();
  }
}

/**
 * Round trips per refresh when `sessions` sessions refresh at once, `rounds` times: the calls of one
 * event-loop turn share one statement (the store's rotation batches).
 */
async function roundTripsPerConcurrentRefresh(
  store: Store,
  sessions: number,
  rounds: number,
): Promise<number> {
  const { engine } = await createEngineFixture({ store });
  try {
    let tokens = await Promise.all(
      Array.from({ length: sessions }, async () => {
        const user = await engine.createUser({ email: `${randomBytes(6).toString('hex')}@example.com` });
        const token = must((await engine.startSession({ userId: user.id, amr: ['ext'] })).refreshToken);
        // Shows the engine the session (its salt), as in the sequential count.
        return must((await engine.refresh({ refreshToken: token })).refreshToken);
      }),
    );
    const { queries } = await countQueries(async () => {
      for (let i = 0; i < rounds; i += 1)
        tokens = await Promise.all(
          tokens.map(async (token) => must((await engine.refresh({ refreshToken: token })).refreshToken)),
        );
    });
    return queries / (sessions * rounds);
  } finally {
    await engine.close();
  }
}

if (available) {
  describe('postgres round trips per refresh', () => {
    const schema = `round_trips_${randomBytes(6).toString('hex')}`;
    let store: Store;
    before(async () => {
      store = await createPostgresStore({ connectionString: URL, schema });
    });
    after(async () => {
      await store.close();
      await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    });

    it('is one: the read and the compare-and-set rotation in one statement, once the salt is known', async () => {
      assert.equal(await roundTripsPerRefresh(store, 20), 1);
    });

    it('is 1/64 for 64 concurrent refreshes: one statement rotates the sessions of one turn', async () => {
      const perRefresh = await roundTripsPerConcurrentRefresh(store, 64, 5);
      assert.ok(perRefresh <= 2 / 64, `${perRefresh} round trips per refresh`);
    });

    it('is two without the one-step rotation: the session read with its user, then the rotation', async () => {
      const { rotateSessionInOneStep: _, ...twoSteps } = store;
      assert.equal(await roundTripsPerRefresh(twoSteps as Store, 20), 2);
    });

    it('was three without either (session, user, rotation), as a store without them still gets', async () => {
      const { findSessionWithUser: _, rotateSessionInOneStep: __, ...plain } = store;
      assert.equal(await roundTripsPerRefresh(plain as Store, 20), 3);
    });
  });
}
