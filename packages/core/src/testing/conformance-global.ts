import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { OneTimeTokenRecord } from '../store/store.ts';
import type { ConformanceTest } from './store-conformance.ts';
import {
  HOUR,
  ids,
  makeEvent,
  makeOneTimeToken,
  makeSigningKey,
  orderedId,
  outboxIds,
  seedSessions,
  seedUser,
  T0,
} from './store-fixtures.ts';

/** User-wide and global operations: password change, emergency revoke-all, sweeps, the feed, keys. */
export function globalConformance(test: ConformanceTest): void {
  describe('user-wide and global operations', () => {
    test('changes a password atomically: hash, version +1, every other session revoked', async ({
      store,
    }) => {
      const user = await seedUser(store, { tokenVersion: 3, roles: ['user'], profile: { name: 'Ada' } });
      const other = await seedUser(store);
      const [keep, a, b, gone] = await seedSessions(
        store,
        user.id,
        { createdAtMs: T0 },
        { createdAtMs: T0 + 1 },
        { createdAtMs: T0 + 2 },
        { createdAtMs: T0 + 3 },
      );
      const [foreign] = await seedSessions(store, other.id, {});
      const goneRevoked = await store.revokeSession(gone?.id ?? '', T0 + 10, 'logout');
      const changed = await store.changePassword(user.id, 'new-hash', keep?.id ?? null, T0 + 50);
      const expectedUser = {
        ...user,
        passwordHash: 'new-hash',
        tokenVersion: 4,
        tokenVersionChangedAtMs: T0 + 50,
        updatedAtMs: T0 + 50,
      };
      assert.deepEqual(changed?.user, expectedUser);
      assert.deepEqual(await store.findUserById(user.id), expectedUser);
      const expectedRevoked = [a, b].map((s) => ({
        ...s,
        revokedAtMs: T0 + 50,
        revokeReason: 'password_changed',
      }));
      assert.deepEqual(
        [...(changed?.revoked ?? [])].sort((x, y) => x.createdAtMs - y.createdAtMs),
        expectedRevoked,
      );
      for (const s of expectedRevoked) assert.deepEqual(await store.findSession(s.id ?? ''), s);
      assert.deepEqual(await store.findSession(keep?.id ?? ''), keep);
      assert.deepEqual(await store.findSession(gone?.id ?? ''), goneRevoked);
      assert.deepEqual(await store.findSession(foreign?.id ?? ''), foreign);
      const emitted: unknown[] = [];
      const event = makeEvent({ type: 'password.changed' });
      const again = await store.changePassword(user.id, 'newer-hash', null, T0 + 60, (result) => {
        emitted.push(result);
        return [event];
      });
      assert.equal(again?.user.tokenVersion, 5);
      assert.deepEqual(ids(again?.revoked ?? []), [keep?.id]);
      assert.deepEqual(emitted, [again], 'the events see the committed result');
      assert.equal(
        await store.changePassword('missing', 'h', null, T0 + 70, () => {
          throw new Error('emit must not run for a missing user');
        }),
        null,
      );
      assert.deepEqual(await outboxIds(store), [event.id]);
    });

    test('emergency revoke-all ends every session and never moves the not-before back', async ({ store }) => {
      const users = [await seedUser(store), await seedUser(store)];
      const sessions = (await Promise.all(users.map((u) => seedSessions(store, u.id, {}, {})))).flat();
      const earlier = await store.revokeSession(sessions[0]?.id ?? '', T0 + 5, 'logout');
      assert.equal(await store.getGlobalNotBeforeMs(), null);
      assert.equal(await store.emergencyRevokeAll(T0 + 100), 3);
      assert.equal(await store.getGlobalNotBeforeMs(), T0 + 100);
      assert.deepEqual(await store.findSession(sessions[0]?.id ?? ''), earlier);
      for (const s of sessions.slice(1)) {
        assert.deepEqual(await store.findSession(s.id), {
          ...s,
          revokedAtMs: T0 + 100,
          revokeReason: 'emergency',
        });
      }
      for (const u of users) assert.deepEqual(await store.listLiveSessions(u.id, T0 + 1), []);
      const [later] = await seedSessions(store, users[0]?.id ?? '', { createdAtMs: T0 + 200 });
      assert.equal(await store.emergencyRevokeAll(T0 + 50), 1, 'an earlier instant still revokes');
      assert.equal(await store.getGlobalNotBeforeMs(), T0 + 100, 'but never lowers the not-before');
      assert.equal((await store.findSession(later?.id ?? ''))?.revokeReason, 'emergency');
      assert.equal(await store.emergencyRevokeAll(T0 + 300), 0);
      assert.equal(await store.getGlobalNotBeforeMs(), T0 + 300);
    });

    test('sweeps only rows that ended strictly before the cut-off, at most limit at a time', async ({
      store,
    }) => {
      const user = await seedUser(store);
      const cut = T0 + 100;
      const [idleGone, absoluteGone, revokedGone, idleAtCut, absoluteAtCut, revokedAtCut, revokedLate, live] =
        await seedSessions(
          store,
          user.id,
          { idleExpiresAtMs: cut - 1, absoluteExpiresAtMs: cut + 1000 },
          { idleExpiresAtMs: cut + 1000, absoluteExpiresAtMs: cut - 1 },
          {},
          { idleExpiresAtMs: cut, absoluteExpiresAtMs: cut + 1000 },
          { idleExpiresAtMs: cut + 1000, absoluteExpiresAtMs: cut },
          {},
          {},
          { createdAtMs: T0 - 10 * HOUR, idleExpiresAtMs: cut + HOUR, absoluteExpiresAtMs: cut + HOUR },
        );
      await store.revokeSession(revokedGone?.id ?? '', cut - 1, 'logout');
      await store.revokeSession(revokedAtCut?.id ?? '', cut, 'logout');
      await store.revokeSession(revokedLate?.id ?? '', cut + 50, 'logout');
      assert.equal(await store.sweepSessions(cut, 2), 2);
      assert.equal(await store.sweepSessions(cut, 2), 1);
      assert.equal(await store.sweepSessions(cut, 2), 0);
      for (const s of [idleGone, absoluteGone, revokedGone])
        assert.equal(await store.findSession(s?.id ?? ''), null);
      for (const s of [idleAtCut, absoluteAtCut, revokedAtCut, revokedLate, live]) {
        assert.ok(await store.findSession(s?.id ?? ''), 'kept');
      }
      assert.equal(await store.sweepSessions(cut + 1, 0), 0, 'a zero limit deletes nothing');
      assert.equal(await store.sweepSessions(cut + 1, 10), 3);
    });

    test('lists revocations since an instant, inclusive, oldest first, bounded', async ({ store }) => {
      const user = await seedUser(store);
      const [s10, s20, tieB, tieA, live] = await seedSessions(
        store,
        user.id,
        {},
        {},
        { id: orderedId('b') },
        { id: orderedId('a') },
        {},
      );
      const revokedB = await store.revokeSession(tieB?.id ?? '', T0 + 30, 'admin');
      const revoked20 = await store.revokeSession(s20?.id ?? '', T0 + 20, 'logout');
      await store.revokeSession(s10?.id ?? '', T0 + 10, 'logout');
      const revokedA = await store.revokeSession(tieA?.id ?? '', T0 + 30, 'admin');
      assert.deepEqual(await store.listRevokedSince(T0 + 20, 10), [revoked20, revokedA, revokedB]);
      assert.deepEqual(ids(await store.listRevokedSince(T0, 2)), [s10?.id, s20?.id]);
      assert.deepEqual(await store.listRevokedSince(T0 + 31, 10), []);
      assert.ok(!ids(await store.listRevokedSince(0, 10)).includes(live?.id ?? ''));
    });

    test('sweeps ended one-time tokens and delivered events too, within one limit in total', async ({
      store,
    }) => {
      const cut = T0 + HOUR;
      const user = await seedUser(store);
      const [session] = await seedSessions(store, user.id, {});
      await store.revokeSession(session?.id ?? '', cut - 1, 'logout');
      // Each token has a user of its own: a newer token voids the older of its kind for its user.
      const token = async (overrides: Partial<OneTimeTokenRecord>) => {
        const owner = await seedUser(store);
        const record = makeOneTimeToken(owner.id, { kind: 'magic_link', ...overrides });
        await store.createOneTimeToken(record);
        return record;
      };
      await token({ createdAtMs: cut - HOUR, expiresAtMs: cut - 1 });
      await token({ createdAtMs: cut - HOUR, expiresAtMs: cut });
      const usedBefore = await token({ createdAtMs: cut - HOUR, expiresAtMs: cut + HOUR });
      const usedAtCut = await token({ createdAtMs: cut - HOUR, expiresAtMs: cut + HOUR });
      assert.equal(
        (await store.redeemOneTimeToken(usedBefore.tokenHash, 'magic_link', cut - 1)).status,
        'redeemed',
      );
      assert.equal(
        (await store.redeemOneTimeToken(usedAtCut.tokenHash, 'magic_link', cut)).status,
        'redeemed',
      );
      const voidedBefore = await token({ createdAtMs: cut - HOUR, expiresAtMs: cut + HOUR });
      const newer = makeOneTimeToken(voidedBefore.userId, {
        kind: 'magic_link',
        createdAtMs: cut - 1,
        expiresAtMs: cut + HOUR,
      });
      await store.createOneTimeToken(newer);
      const voidedAtCut = await token({
        kind: 'email_verification',
        createdAtMs: cut - HOUR,
        expiresAtMs: cut + HOUR,
      });
      const newest = makeOneTimeToken(voidedAtCut.userId, {
        kind: 'email_verification',
        createdAtMs: cut,
        expiresAtMs: cut + HOUR,
      });
      await store.createOneTimeToken(newest);

      const events = Array.from({ length: 4 }, (_, i) =>
        makeEvent({ id: orderedId(String.fromCharCode(97 + i)) }),
      );
      await store.appendOutbox(events);
      const claimed = await store.claimOutbox(T0, 10, 60_000, 'worker');
      assert.equal(claimed.length, 4);
      const [deliveredBefore, deliveredAtCut, dead] = events;
      await store.finishOutboxAttempt(deliveredBefore?.id ?? '', 'worker', {
        delivered: true,
        atMs: cut - 1,
      });
      await store.finishOutboxAttempt(deliveredAtCut?.id ?? '', 'worker', { delivered: true, atMs: cut });
      await store.finishOutboxAttempt(dead?.id ?? '', 'worker', {
        delivered: false,
        atMs: T0,
        nextAttemptAtMs: null,
        error: 'HTTP 500',
      });

      // Before the cut: the revoked session, three tokens (expired, used, voided), one delivered event.
      assert.equal(await store.sweepSessions(cut, 2), 2);
      assert.equal(await store.sweepSessions(cut, 2), 2);
      assert.equal(await store.sweepSessions(cut, 2), 1);
      assert.equal(await store.sweepSessions(cut, 2), 0);
      assert.deepEqual(ids(await store.listOutbox('delivered', 10)), [deliveredAtCut?.id]);
      // At the cut exactly: three more tokens and one more event end there, so one more ms sweeps them.
      assert.equal(await store.sweepSessions(cut + 1, 10), 4);
      assert.equal(await store.sweepSessions(cut + 1, 10), 0);
      assert.deepEqual(await store.listOutbox('delivered', 10), []);
      assert.deepEqual(ids(await store.listOutbox('dead', 10)), [dead?.id], 'dead events wait for a replay');
      assert.equal((await store.listOutbox('pending', 10)).length, 1, 'pending events are never swept');
      for (const live of [newer, newest]) {
        assert.equal((await store.redeemOneTimeToken(live.tokenHash, live.kind, cut + 1)).status, 'redeemed');
      }
    });
  });

  describe('signing keys', () => {
    test('lists newest first; adding one retires only the unretired others; deletes', async ({ store }) => {
      const first = makeSigningKey(T0);
      const second = makeSigningKey(T0 + 100, { alg: 'ES256' });
      const third = makeSigningKey(T0 + 200, { alg: 'RS256' });
      await store.addSigningKey(first);
      assert.deepEqual(await store.listSigningKeys(), [first]);
      await store.addSigningKey(second);
      assert.deepEqual(await store.listSigningKeys(), [second, { ...first, retiredAtMs: T0 + 100 }]);
      await store.addSigningKey(third);
      const all = [third, { ...second, retiredAtMs: T0 + 200 }, { ...first, retiredAtMs: T0 + 100 }];
      assert.deepEqual(await store.listSigningKeys(), all);
      await store.deleteSigningKey(second.kid);
      await store.deleteSigningKey('missing');
      assert.deepEqual(await store.listSigningKeys(), [all[0], all[2]]);
    });
  });
}
