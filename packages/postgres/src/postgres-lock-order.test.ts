import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { OneStepRotationResult, SessionRecord, Store, UserRecord } from '@tessera/core';
import { makeSession, makeUser } from '@tessera/core/testing';
import pg from 'pg';
import { createPostgresStore } from './postgres-store.ts';
import type { RotationBatcher } from './rotation-batch.ts';
import {
  adminQuery,
  bareRotationInstance,
  testPostgresProblem,
  TEST_POSTGRES_URL as URL,
} from './test-server.ts';

// Every statement that writes many session rows against a batch of refreshes over the same rows, on a
// real PostgreSQL, through a batcher without the deadlock retry: a deadlock fails the test. Each round
// makes the two collide for certain: a third transaction holds one session in the middle (in id
// order) until both statements wait, the batch having locked the sessions before it. A writer that
// locks in another order (the sessions here lie in the table, and were created and expire, in the
// reverse of id order) has by then locked some after it, which the batch needs next: a deadlock. One
// that locks in id order waits for the batch's first session and holds nothing the batch needs.
// Outside CI a missing server skips with a reason; under CI=true it fails.
const available = (await testPostgresProblem()) === null;

const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;
const SESSIONS = 12;
const ROUNDS = 4;
// PostgreSQL looks for a deadlock 50 ms into a wait (1 s by default): a failing run fails quickly.
const QUICK_DEADLOCKS = `${URL}?options=-c%20deadlock_timeout%3D50`;

interface Seeded {
  user: UserRecord;
  /** In id order. */
  sessions: SessionRecord[];
}

/**
 * A user with {@link SESSIONS} live sessions (generation 1, rotatable at `T0 + 10`), inserted in the
 * reverse of id order, and created and idle-expiring in that insertion order: a scan of the table, of
 * the user's sessions by age or of sessions by expiry meets them in the reverse of id order.
 */
async function seedReversed(store: Store): Promise<Seeded> {
  const user = makeUser();
  assert.equal(await store.createUser(user), 'created');
  // Same length, one prefix, digits after it: the same order under any collation.
  const prefix = `k${randomBytes(6).toString('hex')}`;
  const sessions: SessionRecord[] = [];
  for (let n = 0; n < SESSIONS; n += 1) {
    const session = makeSession(user.id, {
      id: `${prefix}${String(SESSIONS - 1 - n).padStart(3, '0')}`,
      createdAtMs: T0 - HOUR + n,
      idleExpiresAtMs: T0 + 100 + n,
    });
    await store.createSession(session);
    sessions.unshift(session);
  }
  return { user, sessions };
}

/** Waits until `count` backends wait for a lock in a statement on `schema`'s sessions. */
async function lockWaits(admin: pg.Client, schema: string, count: number): Promise<void> {
  for (let i = 0; i < 1000; i += 1) {
    const { rows } = await admin.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`,
      [`%${schema}.sessions%`],
    );
    if ((rows[0]?.n as number) >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`Fewer than ${count} statements ever waited for a lock.`);
}

interface Race<T> {
  rotations: Array<PromiseSettledResult<OneStepRotationResult | null>>;
  written: PromiseSettledResult<T>;
}

/**
 * Sends one batch rotating every session of `seeded` while another transaction holds `blocked`, then,
 * once the batch waits for it, runs `write`; once that waits too, lets `blocked` go.
 */
async function raceWithBatch<T>(
  batcher: RotationBatcher,
  schema: string,
  seeded: Seeded,
  blocked: SessionRecord,
  write: () => Promise<T>,
): Promise<Race<T>> {
  const admin = new pg.Client({ connectionString: URL });
  const blocker = new pg.Client({ connectionString: URL });
  await admin.connect();
  await blocker.connect();
  try {
    await blocker.query('BEGIN');
    await blocker.query(`SELECT 1 FROM ${schema}.sessions WHERE id = $1 FOR UPDATE`, [blocked.id]);
    const update = { nowMs: T0 + 10, idleTtlMs: HOUR, maxLoginAgeMs: 0, ip: null, userAgent: null };
    const rotations = Promise.allSettled(
      seeded.sessions.map((s) => batcher.rotate(s.id, s.generation, update)),
    );
    await lockWaits(admin, schema, 1);
    const written = Promise.allSettled([write()]);
    await lockWaits(admin, schema, 2);
    await blocker.query('COMMIT');
    return { rotations: await rotations, written: (await written)[0] as PromiseSettledResult<T> };
  } finally {
    // Lets both statements finish if a wait above threw; a no-op after the COMMIT.
    await blocker.query('ROLLBACK').catch(() => undefined);
    await blocker.end();
    await admin.end();
  }
}

/**
 * {@link ROUNDS} rounds, each blocking another session, of a batch over freshly seeded sessions and
 * `write` over the same ones, in a schema of their own (`tag`); `check` then looks at what `write`
 * answered. Asserts that nothing failed and that the batch rotated every session.
 */
async function rounds<T>(
  tag: string,
  write: (store: Store, seeded: Seeded) => Promise<T>,
  check: (answer: T, seeded: Seeded, store: Store) => Promise<void>,
): Promise<void> {
  const schema = `lock_order_${tag}_${randomBytes(6).toString('hex')}`;
  const store = await createPostgresStore({ connectionString: QUICK_DEADLOCKS, schema });
  const instance = bareRotationInstance(schema, QUICK_DEADLOCKS);
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      const seeded = await seedReversed(store);
      const blocked = seeded.sessions[Math.floor(((round + 1) * SESSIONS) / (ROUNDS + 1))] as SessionRecord;
      const { rotations, written } = await raceWithBatch(instance.batcher, schema, seeded, blocked, () =>
        write(store, seeded),
      );
      const failures = [...rotations, written].filter((r) => r.status === 'rejected');
      assert.deepEqual(failures, [], `round ${round}`);
      for (const r of rotations) {
        const result = (r as PromiseFulfilledResult<OneStepRotationResult | null>).value;
        assert.equal(result?.rotated, true, `round ${round}`);
        assert.equal(result?.session.generation, 2, `round ${round}`);
      }
      await check((written as PromiseFulfilledResult<T>).value, seeded, store);
    }
  } finally {
    await instance.end();
    await store.close();
    await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}

/** `seeded`'s sessions as revoked after the batch rotated them, oldest first. */
const revokedByAge = (seeded: Seeded, atMs: number, reason: SessionRecord['revokeReason']) =>
  seeded.sessions
    .map((s) => ({ id: s.id, generation: 2, revokedAtMs: atMs, revokeReason: reason }))
    .reverse();

const summary = (sessions: readonly SessionRecord[]) =>
  sessions.map((s) => ({
    id: s.id,
    generation: s.generation,
    revokedAtMs: s.revokedAtMs,
    revokeReason: s.revokeReason,
  }));

if (available) {
  describe('postgres multi-row session writers against a batch of refreshes: one lock order', () => {
    it('revokeUserSessions of the user whose sessions a batch rotates', async () => {
      await rounds(
        'revoke_user',
        (store, { user }) => store.revokeUserSessions(user.id, T0 + 20, 'logout_all'),
        async (revoked, seeded) => {
          // Oldest first, as before: the reverse of id order here.
          assert.deepEqual(summary(revoked), revokedByAge(seeded, T0 + 20, 'logout_all'));
        },
      );
    });

    it('a login over the cap evicting the sessions a batch rotates', async () => {
      await rounds(
        'evict',
        (store, { user }) =>
          store.createSession(makeSession(user.id, { createdAtMs: T0 + 20 }), { maxPerUser: 1 }),
        async ({ evicted }, seeded) => {
          assert.deepEqual(summary(evicted), revokedByAge(seeded, T0 + 20, 'evicted'));
        },
      );
    });

    it('emergencyRevokeAll while a batch rotates', async () => {
      await rounds(
        'emergency',
        (store) => store.emergencyRevokeAll(T0 + 20),
        async (count, seeded, store) => {
          // Earlier rounds' sessions are revoked already: this round's only.
          assert.equal(count, SESSIONS);
          for (const s of seeded.sessions) {
            const row = await store.findSession(s.id);
            assert.deepEqual(row && summary([row]), [
              { id: s.id, generation: 2, revokedAtMs: T0 + 20, revokeReason: 'emergency' },
            ]);
          }
        },
      );
    });

    it('the sweeper deleting the sessions a batch rotates', async () => {
      // Ended before T0 + 10 h even once rotated (idle expiry T0 + 10 ms + 1 h).
      await rounds(
        'sweep',
        (store) => store.sweepSessions(T0 + 10 * HOUR, 1000),
        async (deleted, seeded, store) => {
          assert.equal(deleted, SESSIONS);
          for (const s of seeded.sessions) assert.equal(await store.findSession(s.id), null);
        },
      );
    });
  });
}
