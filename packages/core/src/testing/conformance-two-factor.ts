import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ConformanceTest } from './store-conformance.ts';
import { makeEvent, outboxIds, readState, seedUser, T0 } from './store-fixtures.ts';

/** Two-factor state: TOTP replay protection, enrolment confirmation, single-use recovery codes. */
export function twoFactorConformance(test: ConformanceTest): void {
  describe('two-factor', () => {
    test('accepts each TOTP step once and never an earlier one (no replay)', async ({ store }) => {
      const user = await seedUser(store, { totpSecret: 'enc:secret' });
      const other = await seedUser(store, { totpSecret: 'enc:other' });
      assert.equal(await store.acceptTotpStep(user.id, 100), true);
      assert.equal(await store.acceptTotpStep(user.id, 100), false, 'the same step again');
      assert.equal(await store.acceptTotpStep(user.id, 99), false, 'an earlier step');
      assert.equal(await store.acceptTotpStep(other.id, 100), true, 'per user');
      assert.equal(await store.acceptTotpStep(user.id, 101), true);
      assert.equal((await store.findUserById(user.id))?.totpLastStep, 101);
      assert.deepEqual(await store.findUserById(user.id), { ...user, totpLastStep: 101 });
    });

    test('confirms enrolment with recovery codes in one change, keeping the last accepted step', async ({
      store,
    }) => {
      const user = await seedUser(store, { totpPendingSecret: 'enc:pending' });
      assert.equal(await store.acceptTotpStep(user.id, 500), true);
      const event = makeEvent({ type: 'mfa.enabled' });
      let seen: unknown;
      const confirmed = await store.setRecoveryCodes(user.id, ['a', 'b', 'c'], {
        confirmTotp: true,
        atMs: T0 + 10,
        emit: (u) => {
          seen = u;
          return [event];
        },
      });
      const expected = {
        ...user,
        totpSecret: 'enc:pending',
        totpPendingSecret: null,
        totpLastStep: 500,
        updatedAtMs: T0 + 10,
      };
      assert.deepEqual(confirmed, expected);
      assert.deepEqual(seen, expected);
      assert.deepEqual(await store.findUserById(user.id), expected);
      assert.equal(await store.countRecoveryCodes(user.id), 3);
      assert.equal(await store.acceptTotpStep(user.id, 500), false, 'the confirming code cannot sign in');
      assert.deepEqual(await outboxIds(store), [event.id]);

      // Confirming again without a pending secret changes nothing and emits nothing.
      const before = await readState(store, { userIds: [user.id], sessionIds: [] });
      const again = await store.setRecoveryCodes(user.id, ['d'], {
        confirmTotp: true,
        atMs: T0 + 20,
        emit: () => {
          throw new Error('emit must not run when nothing changes');
        },
      });
      assert.equal(again, null);
      assert.deepEqual(await readState(store, { userIds: [user.id], sessionIds: [] }), before);
      assert.equal(await store.useRecoveryCode(user.id, 'd', T0 + 21), false);
    });

    test('uses each recovery code once; a new set replaces the old', async ({ store }) => {
      const user = await seedUser(store);
      const other = await seedUser(store);
      const regenerated = await store.setRecoveryCodes(user.id, ['a', 'b', 'c'], {
        confirmTotp: false,
        atMs: T0 + 5,
      });
      assert.deepEqual(regenerated, { ...user, updatedAtMs: T0 + 5 });
      await store.setRecoveryCodes(other.id, ['a'], { confirmTotp: false, atMs: T0 });
      assert.equal(await store.useRecoveryCode(user.id, 'b', T0 + 6), true);
      assert.equal(await store.useRecoveryCode(user.id, 'b', T0 + 7), false, 'used already');
      assert.equal(await store.useRecoveryCode(user.id, 'z', T0 + 7), false, 'not one of them');
      assert.equal(await store.countRecoveryCodes(user.id), 2);
      assert.equal(await store.countRecoveryCodes(other.id), 1, 'the same code of another user is untouched');
      assert.equal(await store.useRecoveryCode(other.id, 'a', T0 + 8), true);
      assert.equal(await store.useRecoveryCode(user.id, 'a', T0 + 9), true, 'per user');

      await store.setRecoveryCodes(user.id, ['x', 'y'], { confirmTotp: false, atMs: T0 + 10 });
      assert.equal(await store.countRecoveryCodes(user.id), 2);
      assert.equal(await store.useRecoveryCode(user.id, 'c', T0 + 11), false, 'the old set is gone');
      assert.equal(await store.useRecoveryCode(user.id, 'x', T0 + 11), true);
      await store.setRecoveryCodes(user.id, [], { confirmTotp: false, atMs: T0 + 12 });
      assert.equal(await store.countRecoveryCodes(user.id), 0);
      assert.equal(await store.useRecoveryCode(user.id, 'y', T0 + 13), false);
    });
  });
}
