import assert from 'node:assert/strict';
import { describe, type TestContext } from 'node:test';
import type { OneStepRotation, SessionRecord, Store, UserRecord } from '../store/store.ts';
import type { ConformanceTest } from './store-conformance.ts';
import { at, contenders, HOUR, seedSessions, seedUser, T0 } from './store-fixtures.ts';

/** A refresh at `nowMs` as the engine sends it: 1 h idle TTL, no maximum login age. */
const step = (nowMs: number, overrides: Partial<OneStepRotation> = {}): OneStepRotation => ({
  nowMs,
  idleTtlMs: HOUR,
  maxLoginAgeMs: 0,
  ip: '198.51.100.9',
  userAgent: 'one-step-agent',
  ...overrides,
});

/** The store's one-step rotation, or a skip when the driver has none (it is optional). */
function oneStep(store: Store, t: TestContext): NonNullable<Store['rotateSessionInOneStep']> | null {
  if (store.rotateSessionInOneStep) return store.rotateSessionInOneStep.bind(store);
  t.skip('the store has no rotateSessionInOneStep (optional)');
  return null;
}

/**
 * What a one-step rotation must refuse, each as a reason and what differs from a rotatable session of
 * generation 3 presented at `T0 + 10` (store-fixtures' `T0`): session, user and rotation overrides.
 * For a driver's own tests of its one-step path (a batched statement, say).
 */
export const ONE_STEP_REFUSALS: ReadonlyArray<
  readonly [string, Partial<SessionRecord>, Partial<UserRecord>, Partial<OneStepRotation>]
> = [
  ['another generation', { generation: 4 }, {}, {}],
  ['revoked', { revokedAtMs: T0 - 1, revokeReason: 'logout' }, {}, {}],
  ['bound to a DPoP key', { dpopJkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' }, {}, {}],
  ['at the idle expiry, exactly', { idleExpiresAtMs: T0 + 10 }, {}, {}],
  ['at the absolute expiry, exactly', { absoluteExpiresAtMs: T0 + 10 }, {}, {}],
  ['at the maximum login age, exactly', { authTimeMs: T0 - 90 }, {}, { maxLoginAgeMs: 100 }],
  ['a disabled user', {}, { disabled: true }, {}],
  ['a user who must log in again', {}, { reauthRequired: true }, {}],
];

/** A user with one session (generation 3, idle expiry T0 + 1 h, absolute T0 + 24 h). */
async function seed(
  store: Store,
  session: Partial<SessionRecord> = {},
  user: Partial<UserRecord> = {},
): Promise<{ user: UserRecord; session: SessionRecord }> {
  const seeded = await seedUser(store, user);
  const [created] = await seedSessions(store, seeded.id, { generation: 3, ...session });
  return { user: seeded, session: created as SessionRecord };
}

/** `rotateSessionInOneStep` (optional): a refresh's read and compare-and-set in one atomic step. */
export function oneStepConformance(test: ConformanceTest): void {
  describe('one-step rotation', () => {
    test('rotates the current generation and answers the new row with the user', async ({ store }, t) => {
      const rotate = oneStep(store, t);
      if (!rotate) return;
      const { user, session } = await seed(store, { absoluteExpiresAtMs: T0 + 24 * HOUR });
      const result = await rotate(session.id, 3, step(T0 + 10));
      const expected = {
        ...session,
        generation: 4,
        rotatedAtMs: T0 + 10,
        lastSeenAtMs: T0 + 10,
        idleExpiresAtMs: T0 + 10 + HOUR,
        ip: '198.51.100.9',
        userAgent: 'one-step-agent',
      };
      assert.deepEqual(result, { rotated: true, session: expected, user });
      assert.deepEqual(await store.findSession(session.id), expected);
    });

    test('caps the idle expiry at the absolute one and keeps IP and user agent when not sent', async ({
      store,
    }, t) => {
      const rotate = oneStep(store, t);
      if (!rotate) return;
      const { session } = await seed(store, { absoluteExpiresAtMs: T0 + 100, idleExpiresAtMs: T0 + 50 });
      const result = await rotate(session.id, 3, step(T0 + 10, { ip: null, userAgent: null }));
      assert.equal(result?.rotated, true);
      assert.equal(result?.session.idleExpiresAtMs, T0 + 100);
      assert.equal(result?.session.ip, session.ip);
      assert.equal(result?.session.userAgent, session.userAgent);
    });

    test('changes nothing and answers the row as read when it must not rotate', async ({ store }, t) => {
      const rotate = oneStep(store, t);
      if (!rotate) return;
      for (const [why, sessionOverrides, userOverrides, stepOverrides] of ONE_STEP_REFUSALS) {
        const { user, session } = await seed(store, sessionOverrides, userOverrides);
        const result = await rotate(session.id, 3, step(T0 + 10, stepOverrides));
        assert.deepEqual(result, { rotated: false, session, user }, why);
        assert.deepEqual(await store.findSession(session.id), session, why);
      }
      // One millisecond earlier, each limit still lets it rotate.
      const { session } = await seed(store, { idleExpiresAtMs: T0 + 11, authTimeMs: T0 - 89 });
      assert.equal((await rotate(session.id, 3, step(T0 + 10, { maxLoginAgeMs: 100 })))?.rotated, true);
      assert.equal(await rotate('missing', 1, step(T0)), null);
    });

    test('of 20 concurrent one-step rotations of one generation, one wins', async (fixture, t) => {
      if (!oneStep(fixture.store, t)) return;
      const { session } = await seed(fixture.store);
      const stores = await contenders(fixture, 4);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (at(stores, i).rotateSessionInOneStep as NonNullable<Store['rotateSessionInOneStep']>)(
            session.id,
            3,
            step(T0 + 10 + i),
          ),
        ),
      );
      const winners = results.filter((r) => r?.rotated);
      assert.equal(winners.length, 1, JSON.stringify(results.map((r) => r?.rotated)));
      for (const loser of results.filter((r) => !r?.rotated))
        assert.ok(loser?.session.generation === 3 || loser?.session.generation === 4);
      assert.deepEqual(await fixture.store.findSession(session.id), winners[0]?.session);
    });
  });
}
