import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { OneStepRotation, SessionRecord, Store } from '@tessera/core';
import { StoreUnavailableError } from '@tessera/core';
import { makeSession, makeUser } from '@tessera/core/testing';
import pg from 'pg';
import { createPostgresStore } from './postgres-store.ts';
import { adminQuery, testPostgresProblem, TEST_POSTGRES_URL as URL } from './test-server.ts';

// One deadline per store call, against a real PostgreSQL whose rows another connection holds locked:
// statements that touch them wait, as they would on a frozen server. A store with one connection and
// one batch in flight must still answer a call queued behind a stuck one within the query timeout,
// counted from when the call began, not from when it got a connection or a batch. (Before, the call
// behind waited out the first one's timeout and then its own: twice the bound.)

const available = (await testPostgresProblem()) === null;
const TIMEOUT_MS = 600;
const T0 = Date.UTC(2030, 0, 1);
const update: OneStepRotation = {
  nowMs: T0 + 1000,
  idleTtlMs: 3_600_000,
  maxLoginAgeMs: 0,
  ip: null,
  userAgent: null,
};

/** How long `promise` took to settle, and its rejection (a fulfilled one fails the test). */
async function timeToRejection(promise: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const started = performance.now();
  try {
    await promise;
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
  assert.fail('the call succeeded past a held lock');
}

describe('a PostgreSQL store call answers within its query timeout, waiting included', {
  skip: !available,
}, () => {
  const schema = `deadline_${randomBytes(6).toString('hex')}`;
  let store: Store;
  let holder: pg.Client;
  let sessions: SessionRecord[];

  before(async () => {
    store = await createPostgresStore({
      connectionString: URL,
      schema,
      maxConnections: 1,
      rotationBatchesInFlight: 1,
      queryTimeoutMs: TIMEOUT_MS,
    });
    const user = makeUser({ createdAtMs: T0 });
    await store.createUser(user);
    // The third is never locked: a statement that gave up client-side may still commit once the lock
    // is gone (it was sent), so the first two may have moved on by the last test.
    sessions = [makeSession(user.id), makeSession(user.id), makeSession(user.id)];
    for (const session of sessions) await store.createSession(session);
    holder = new pg.Client({ connectionString: URL });
    await holder.connect();
  });

  after(async () => {
    await holder.end();
    await store.close();
    await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  /** Runs `work` while `holder` keeps the first two sessions' rows locked, then lets go. */
  async function whileLocked(work: () => Promise<void>): Promise<void> {
    await holder.query('BEGIN');
    await holder.query(`SELECT 1 FROM ${schema}.sessions WHERE id = ANY($1) FOR UPDATE`, [
      sessions.slice(0, 2).map((s) => s.id),
    ]);
    try {
      await work();
    } finally {
      await holder.query('ROLLBACK');
    }
  }

  const [a, b] = [0, 1];
  const auth = { authTimeMs: T0 + 5, amr: ['pwd'], acr: null };

  it('a call waiting for the only connection', async () => {
    await whileLocked(async () => {
      const stuck = timeToRejection(store.updateSessionAuth((sessions[a] as SessionRecord).id, auth));
      const queued = timeToRejection(store.updateSessionAuth((sessions[b] as SessionRecord).id, auth));
      const [first, second] = await Promise.all([stuck, queued]);
      for (const { ms, error } of [first, second]) {
        assert.ok(error instanceof StoreUnavailableError, String(error));
        assert.ok(ms >= TIMEOUT_MS - 5 && ms < TIMEOUT_MS * 1.5, `answered after ${ms.toFixed(0)} ms`);
      }
    });
  });

  it('a refresh waiting for a batch to go out', async () => {
    await whileLocked(async () => {
      const [first, second] = sessions as [SessionRecord, SessionRecord];
      const stuck = timeToRejection(store.rotateSessionInOneStep?.(first.id, 1, update) as Promise<unknown>);
      // The next turn: the first batch is out, so this one waits for its slot.
      await new Promise((resolve) => setImmediate(resolve));
      const queued = timeToRejection(
        store.rotateSessionInOneStep?.(second.id, 1, update) as Promise<unknown>,
      );
      const [one, two] = await Promise.all([stuck, queued]);
      for (const { ms, error } of [one, two]) {
        assert.ok(error instanceof StoreUnavailableError, String(error));
        assert.ok(ms >= TIMEOUT_MS - 5 && ms < TIMEOUT_MS * 1.5, `answered after ${ms.toFixed(0)} ms`);
      }
    });
  });

  it('recovers once the rows are free: the connection dropped at the deadline is replaced', async () => {
    const free = sessions[2] as SessionRecord;
    const result = await store.rotateSessionInOneStep?.(free.id, 1, update);
    assert.equal(result?.rotated, true);
    assert.equal((await store.findSession(free.id))?.generation, 2);
  });
});
