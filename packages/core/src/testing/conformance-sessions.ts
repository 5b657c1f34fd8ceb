import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { RotationUpdate } from '../store/store.ts';
import type { ConformanceTest } from './store-conformance.ts';
import {
  at,
  contenders,
  ids,
  makeEvent,
  makeSession,
  makeUser,
  orderedId,
  outboxIds,
  rotated,
  rotation,
  seedSessions,
  seedUser,
  T0,
} from './store-fixtures.ts';

/** Sessions: create with a cap, rotate by compare-and-set, DPoP binding, step-up, devices, revoke. */
export function sessionsConformance(test: ConformanceTest): void {
  describe('sessions', () => {
    test('creates sessions and finds them exactly as given', async ({ store }) => {
      const user = await seedUser(store);
      const [full, bare] = await seedSessions(
        store,
        user.id,
        {
          amr: ['pwd', 'otp'],
          acr: 'urn:example:loa:2',
          dpopJkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
          generation: 4,
          rotatedAtMs: T0 + 9,
          authTimeMs: T0 - 5,
        },
        { ip: null, userAgent: null, deviceName: null },
      );
      assert.deepEqual(await store.findSession(full?.id ?? ''), full);
      assert.deepEqual(await store.findSession(bare?.id ?? ''), bare);
    });

    test('reads a session with its user in one call, where the driver offers it', async ({ store }, t) => {
      if (!store.findSessionWithUser) {
        t.skip('the store has no findSessionWithUser (optional)');
        return;
      }
      const user = await seedUser(store, { roles: ['admin'], profile: { name: 'Ada' }, tokenVersion: 3 });
      const [session] = await seedSessions(store, user.id, { generation: 7, dpopJkt: 'jkt' });
      assert.deepEqual(await store.findSessionWithUser(session?.id ?? ''), { session, user });
      // Whatever was written last is what it reads: a rotation and a user change.
      const next = await store.rotateSession(session?.id ?? '', 7, rotation(T0 + 5));
      const changed = await store.updateUser(user.id, { disabled: true, updatedAtMs: T0 + 6 });
      assert.deepEqual(await store.findSessionWithUser(session?.id ?? ''), { session: next, user: changed });
      assert.equal(await store.findSessionWithUser('missing'), null);
    });

    test('caps sessions per user: evicts the oldest live ones by creation time', async ({ store }) => {
      const user = await seedUser(store);
      const other = await seedUser(store);
      // Inserted out of creation order, so an insertion-ordered eviction fails.
      const [newer, oldest, middle] = await seedSessions(
        store,
        user.id,
        { createdAtMs: T0 + 20 },
        { createdAtMs: T0 },
        { createdAtMs: T0 + 10 },
      );
      const [revoked, expired] = await seedSessions(
        store,
        user.id,
        { createdAtMs: T0 - 20 },
        { createdAtMs: T0 - 10, idleExpiresAtMs: T0 + 30 },
      );
      await store.revokeSession(revoked?.id ?? '', T0 - 1, 'logout');
      await seedSessions(store, other.id, { createdAtMs: T0 - 30 }, { createdAtMs: T0 - 30 });
      const fresh = makeSession(user.id, { createdAtMs: T0 + 30 });
      const { evicted } = await store.createSession(fresh, { maxPerUser: 2 });
      const expected = [oldest, middle].map((s) => ({
        ...s,
        revokedAtMs: T0 + 30,
        revokeReason: 'evicted',
      }));
      assert.deepEqual(
        [...evicted].sort((x, y) => x.createdAtMs - y.createdAtMs),
        expected,
      );
      for (const s of expected) assert.deepEqual(await store.findSession(s.id ?? ''), s);
      assert.deepEqual(ids(await store.listLiveSessions(user.id, T0 + 31)), [newer?.id, fresh.id]);
      assert.equal((await store.findSession(revoked?.id ?? ''))?.revokeReason, 'logout');
      assert.equal((await store.findSession(expired?.id ?? ''))?.revokedAtMs, null);
      assert.equal((await store.listLiveSessions(other.id, T0 + 31)).length, 2);
      // Without a cap (absent or 0) nothing is evicted.
      assert.deepEqual(
        (await store.createSession(makeSession(user.id, { createdAtMs: T0 + 40 }))).evicted,
        [],
      );
      assert.deepEqual(
        (await store.createSession(makeSession(user.id, { createdAtMs: T0 + 41 }), { maxPerUser: 0 }))
          .evicted,
        [],
      );
      const last = makeSession(user.id, { createdAtMs: T0 + 50 });
      assert.equal((await store.createSession(last, { maxPerUser: 1 })).evicted.length, 4);
      assert.deepEqual(ids(await store.listLiveSessions(user.id, T0 + 51)), [last.id]);
    });

    test('caps concurrent logins: never more live sessions than the cap', async (fixture) => {
      const user = await seedUser(fixture.store);
      const stores = await contenders(fixture, 4);
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          at(stores, i).createSession(makeSession(user.id, { createdAtMs: T0 + i }), { maxPerUser: 3 }),
        ),
      );
      const { store } = fixture;
      const evicted = results.flatMap((r) => r.evicted);
      assert.equal(new Set(ids(evicted)).size, 7);
      assert.ok(evicted.every((s) => s.revokeReason === 'evicted'));
      assert.equal((await store.listLiveSessions(user.id, T0 + 100)).length, 3);
    });

    test('rotates by compare-and-set: of 50 concurrent rotations exactly one wins', async (fixture) => {
      const { store } = fixture;
      const user = await seedUser(store);
      const [session] = await seedSessions(store, user.id, {});
      if (!session) throw new Error('unreachable');
      const stores = await contenders(fixture, 4);
      const updates = Array.from({ length: 50 }, (_, i) => rotation(T0 + 1000 + i, `racer-${i}`));
      const results = await Promise.all(updates.map((u, i) => at(stores, i).rotateSession(session.id, 1, u)));
      const winners = results.flatMap((row, i) =>
        row ? [{ row, update: updates[i] as RotationUpdate }] : [],
      );
      assert.equal(winners.length, 1);
      const [winner] = winners;
      const expected = rotated(session, winner?.update ?? rotation(0));
      assert.deepEqual(winner?.row, expected);
      assert.deepEqual(await store.findSession(session.id), expected);
    });

    test('refuses a rotation from a wrong generation or of a revoked session, changing nothing', async ({
      store,
    }) => {
      const user = await seedUser(store);
      const [session] = await seedSessions(store, user.id, {});
      if (!session) throw new Error('unreachable');
      const first = rotation(T0 + 10);
      assert.deepEqual(await store.rotateSession(session.id, 1, first), rotated(session, first));
      const current = await store.findSession(session.id);
      assert.equal(await store.rotateSession(session.id, 1, rotation(T0 + 20)), null, 'stale generation');
      assert.equal(await store.rotateSession(session.id, 3, rotation(T0 + 20)), null, 'future generation');
      assert.deepEqual(await store.findSession(session.id), current);
      const revoked = await store.revokeSession(session.id, T0 + 30, 'logout');
      assert.equal(await store.rotateSession(session.id, 2, rotation(T0 + 40)), null, 'revoked');
      assert.deepEqual(await store.findSession(session.id), revoked);
      const second = rotation(T0 + 50);
      const [other] = await seedSessions(store, user.id, {});
      if (!other) throw new Error('unreachable');
      const once = await store.rotateSession(other.id, 1, first);
      assert.deepEqual(await store.rotateSession(other.id, 2, second), rotated(once ?? other, second));
    });

    test('rotates different sessions concurrently, each once', async ({ store }) => {
      const user = await seedUser(store);
      const sessions = await seedSessions(store, user.id, ...Array.from({ length: 20 }, () => ({})));
      const update = rotation(T0 + 100);
      const results = await Promise.all(sessions.map((s) => store.rotateSession(s.id, 1, update)));
      assert.deepEqual(
        results,
        sessions.map((s) => rotated(s, update)),
      );
    });

    test('revokes stickily: a later revocation of any kind changes nothing', async ({ store }) => {
      const user = await seedUser(store);
      const [session] = await seedSessions(store, user.id, {});
      if (!session) throw new Error('unreachable');
      const revoked = { ...session, revokedAtMs: T0 + 10, revokeReason: 'logout' as const };
      assert.deepEqual(await store.revokeSession(session.id, T0 + 10, 'logout'), revoked);
      assert.equal(await store.revokeSession(session.id, T0 + 20, 'admin'), null);
      assert.deepEqual(await store.revokeUserSessions(user.id, T0 + 30, 'logout_all'), []);
      assert.deepEqual((await store.changePassword(user.id, 'h', null, T0 + 40))?.revoked, []);
      assert.equal(await store.emergencyRevokeAll(T0 + 50), 0);
      assert.deepEqual(await store.findSession(session.id), revoked);
    });

    test('revokes every unrevoked session of a user except the one named', async ({ store }) => {
      const user = await seedUser(store);
      const other = await seedUser(store);
      const [keep, a, b, earlier] = await seedSessions(
        store,
        user.id,
        { createdAtMs: T0 },
        { createdAtMs: T0 + 1 },
        { createdAtMs: T0 + 2 },
        { createdAtMs: T0 + 3 },
      );
      const [foreign] = await seedSessions(store, other.id, {});
      const earlierRevoked = await store.revokeSession(earlier?.id ?? '', T0 + 5, 'device_revoked');
      const revoked = await store.revokeUserSessions(user.id, T0 + 50, 'logout_all', {
        exceptSessionId: keep?.id ?? '',
      });
      assert.deepEqual(
        [...revoked].sort((x, y) => x.createdAtMs - y.createdAtMs),
        [a, b].map((s) => ({ ...s, revokedAtMs: T0 + 50, revokeReason: 'logout_all' })),
      );
      assert.deepEqual(await store.findSession(keep?.id ?? ''), keep);
      assert.deepEqual(await store.findSession(earlier?.id ?? ''), earlierRevoked);
      assert.deepEqual(await store.findSession(foreign?.id ?? ''), foreign);
      assert.deepEqual(ids(await store.revokeUserSessions(user.id, T0 + 60, 'admin')), [keep?.id]);
      assert.deepEqual(await store.revokeUserSessions(user.id, T0 + 70, 'admin'), []);
    });

    test('lists live sessions: revoked and expired excluded at the exact instant, oldest first', async ({
      store,
    }) => {
      const user = await seedUser(store);
      const other = await seedUser(store);
      const T = T0 + 1000;
      // Same creation time, inserted in reverse id order: ties break by id.
      const [idle, absolute, tieB, tieA, revoked] = await seedSessions(
        store,
        user.id,
        { createdAtMs: T0, idleExpiresAtMs: T, absoluteExpiresAtMs: T + 5000 },
        { createdAtMs: T0 + 1, idleExpiresAtMs: T + 5000, absoluteExpiresAtMs: T + 100 },
        { id: orderedId('b'), createdAtMs: T0 + 2 },
        { id: orderedId('a'), createdAtMs: T0 + 2 },
        { createdAtMs: T0 + 3 },
      );
      await seedSessions(store, other.id, {});
      await store.revokeSession(revoked?.id ?? '', T0 + 4, 'logout');
      const live = async (nowMs: number) => ids(await store.listLiveSessions(user.id, nowMs));
      assert.deepEqual(await live(T - 1), [idle?.id, absolute?.id, tieA?.id, tieB?.id]);
      assert.deepEqual(await live(T), [absolute?.id, tieA?.id, tieB?.id]);
      assert.deepEqual(await live(T + 99), [absolute?.id, tieA?.id, tieB?.id]);
      assert.deepEqual(await live(T + 100), [tieA?.id, tieB?.id]);
      assert.deepEqual(await store.listLiveSessions(user.id, T0 + 10), [idle, absolute, tieA, tieB]);
    });

    test('binds a session to a DPoP key on rotation and then refuses another key', async ({ store }) => {
      const user = await seedUser(store);
      const [session] = await seedSessions(store, user.id, {});
      if (!session) throw new Error('unreachable');
      const bind = { ...rotation(T0 + 10), dpopJkt: 'key-a' };
      const bound = await store.rotateSession(session.id, 1, bind);
      assert.deepEqual(bound, rotated(session, bind));
      assert.equal(
        await store.rotateSession(session.id, 2, { ...rotation(T0 + 20), dpopJkt: 'key-b' }),
        null,
      );
      assert.deepEqual(await store.findSession(session.id), bound, 'another key changed nothing');
      const same = { ...rotation(T0 + 30), dpopJkt: 'key-a' };
      assert.deepEqual(await store.rotateSession(session.id, 2, same), rotated(bound ?? session, same));
      // Without a thumbprint the store checks no binding (the engine refuses an unproven bound session).
      const plain = await store.rotateSession(session.id, 3, rotation(T0 + 40));
      assert.equal(plain?.dpopJkt, 'key-a', 'a binding is never dropped');
    });

    test('records a new authentication in a live session only', async ({ store }) => {
      const user = await seedUser(store);
      const [session, ended] = await seedSessions(store, user.id, {}, {});
      if (!session || !ended) throw new Error('unreachable');
      const auth = { authTimeMs: T0 + 100, amr: ['pwd', 'otp', 'mfa'], acr: 'urn:example:mfa' };
      const updated = await store.updateSessionAuth(session.id, auth);
      assert.deepEqual(updated, { ...session, ...auth });
      assert.deepEqual(await store.findSession(session.id), updated);
      await store.revokeSession(ended.id, T0 + 1, 'logout');
      const before = await store.findSession(ended.id);
      assert.equal(await store.updateSessionAuth(ended.id, auth), null);
      assert.deepEqual(await store.findSession(ended.id), before);
    });

    test('reports a device as new only the first time it is seen for that user', async ({ store }) => {
      const user = await seedUser(store);
      const other = await seedUser(store);
      const create = (userId: string, deviceFingerprint?: string) =>
        store.createSession(
          makeSession(userId),
          deviceFingerprint === undefined ? {} : { deviceFingerprint },
        );
      assert.equal((await create(user.id, 'laptop')).newDevice, true);
      assert.equal((await create(user.id, 'laptop')).newDevice, false);
      assert.equal((await create(user.id, 'phone')).newDevice, true);
      assert.equal((await create(other.id, 'laptop')).newDevice, true, 'per user');
      assert.equal((await create(user.id)).newDevice, false, 'no fingerprint, nothing new');
      const first = makeSession(makeUser().id);
      const fresh = makeUser();
      assert.equal(
        await store.createUser(fresh, {
          session: { ...first, userId: fresh.id },
          deviceFingerprint: 'laptop',
        }),
        'created',
      );
      assert.equal(
        (await create(fresh.id, 'laptop')).newDevice,
        false,
        'the first session’s device is known',
      );
    });

    test('writes the events of a login and of a revocation only when something changed', async ({
      store,
    }) => {
      const user = await seedUser(store);
      const [old] = await seedSessions(store, user.id, { createdAtMs: T0 - 1 });
      const fresh = makeSession(user.id, { createdAtMs: T0 + 1 });
      const login = makeEvent({ type: 'session.created' });
      let seen: unknown;
      await store.createSession(fresh, {
        maxPerUser: 1,
        deviceFingerprint: 'laptop',
        emit: (result) => {
          seen = result;
          return [login];
        },
      });
      assert.deepEqual(seen, {
        evicted: [{ ...old, revokedAtMs: T0 + 1, revokeReason: 'evicted' }],
        newDevice: true,
      });
      const revokedEvent = makeEvent({ type: 'session.revoked' });
      const emitted: unknown[] = [];
      const emit = (row: unknown) => {
        emitted.push(row);
        return [revokedEvent];
      };
      const revoked = await store.revokeSession(fresh.id, T0 + 2, 'logout', emit);
      assert.equal(await store.revokeSession(fresh.id, T0 + 3, 'logout', emit), null);
      assert.equal(await store.revokeSession('missing', T0 + 3, 'logout', emit), null);
      assert.deepEqual(emitted, [revoked], 'called once, with the revoked row');
      const all = makeEvent({ type: 'session.revoked' });
      assert.deepEqual(
        await store.revokeUserSessions(user.id, T0 + 4, 'logout_all', {
          emit: () => {
            throw new Error('emit must not run when nothing was revoked');
          },
        }),
        [],
      );
      const [live] = await seedSessions(store, user.id, { createdAtMs: T0 + 5 });
      const ended = await store.revokeUserSessions(user.id, T0 + 6, 'logout_all', {
        emit: (rows) => rows.map((row) => ({ ...all, data: { sid: row.id } })),
      });
      assert.deepEqual(ids(ended), [live?.id]);
      assert.deepEqual(await outboxIds(store), [login.id, revokedEvent.id, all.id].sort());
      assert.deepEqual((await store.listOutbox('pending', 10)).find((e) => e.id === all.id)?.data, {
        sid: live?.id,
      });
    });
  });
}
