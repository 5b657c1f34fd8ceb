import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { UserRecord } from '../store/store.ts';
import type { ConformanceTest } from './store-conformance.ts';
import {
  ids,
  makeEvent,
  makeIdentity,
  makeUser,
  orderedId,
  readState,
  rotation,
  seedSessions,
  seedUser,
  T0,
} from './store-fixtures.ts';

/** Users: create, find, patch, email uniqueness, paging, the token-version feed. */
export function usersConformance(test: ConformanceTest): void {
  describe('users', () => {
    test('creates a user and finds it by id and by email, as given', async ({ store }) => {
      const user = await seedUser(store, {
        roles: ['admin', 'support'],
        profile: { name: 'Ada', phone_number: '+15550100' },
        totpSecret: 'JBSWY3DPEHPK3PXP',
        disabled: true,
        reauthRequired: true,
        tokenVersion: 7,
        updatedAtMs: T0 + 1,
      });
      assert.deepEqual(await store.findUserById(user.id), user);
      assert.deepEqual(await store.findUserByEmail(user.email ?? ''), user);
      const plain = await seedUser(store);
      assert.deepEqual(await store.findUserById(plain.id), plain);
    });

    test('refuses a taken email with email_taken and writes nothing', async ({ store }) => {
      const user = await seedUser(store, { profile: { name: 'First' } });
      const twin = makeUser({ email: user.email, passwordHash: 'other', profile: { name: 'Second' } });
      assert.equal(await store.createUser(twin), 'email_taken');
      assert.equal(await store.findUserById(twin.id), null);
      assert.deepEqual(await store.findUserByEmail(user.email ?? ''), user);
      // A new user is not a token-version change: the revocation feed must not list it.
      assert.deepEqual(await store.listUsersUpdatedSince(0, 10), []);
    });

    test('answers null for missing rows instead of throwing', async ({ store }) => {
      assert.equal(await store.findUserById('missing'), null);
      assert.equal(await store.findUserByEmail('missing@example.com'), null);
      assert.equal(await store.updateUser('missing', { bumpTokenVersion: true, updatedAtMs: T0 }), null);
      assert.equal(await store.changePassword('missing', 'hash', null, T0), null);
      assert.equal(await store.findSession('missing'), null);
      assert.equal(await store.rotateSession('missing', 1, rotation(T0)), null);
      assert.equal(await store.revokeSession('missing', T0, 'logout'), null);
      assert.deepEqual(await store.revokeUserSessions('missing', T0, 'logout_all'), []);
      assert.deepEqual(await store.listLiveSessions('missing', T0), []);
      assert.equal(await store.getGlobalNotBeforeMs(), null);
      assert.deepEqual(await store.listSigningKeys(), []);
      await store.deleteSigningKey('missing');
      assert.deepEqual(await store.listUsers(null, 10), []);
      assert.equal(await store.acceptTotpStep('missing', 1), false);
      assert.equal(await store.setRecoveryCodes('missing', ['h'], { confirmTotp: false, atMs: T0 }), null);
      assert.equal(await store.useRecoveryCode('missing', 'h', T0), false);
      assert.equal(await store.countRecoveryCodes('missing'), 0);
      assert.equal(await store.unlinkIdentity('missing', makeIdentity()), false);
      assert.equal(await store.findUserByIdentity(makeIdentity()), null);
      assert.deepEqual(await store.listIdentities('missing'), []);
      assert.equal(
        await store.updateSessionAuth('missing', { authTimeMs: T0, amr: ['pwd'], acr: null }),
        null,
      );
      assert.deepEqual(await store.redeemOneTimeToken('missing', 'magic_link', T0), { status: 'invalid' });
      assert.deepEqual(await store.claimOutbox(T0, 10, 1000, 'worker'), []);
      await store.finishOutboxAttempt('missing', 'worker', { delivered: true, atMs: T0 });
      assert.deepEqual(await store.listOutbox('dead', 10), []);
      assert.equal(await store.replayOutbox('missing', T0), false);
      assert.equal(await store.sweepSessions(T0, 10), 0);
      await store.ping();
      await store.ping({ write: true });
    });

    test('returns fresh records: changing one changes nothing stored', async ({ store }) => {
      const user = await seedUser(store, { roles: ['user'], profile: { name: 'Ada' } });
      const [session] = await seedSessions(store, user.id, {});
      if (!session) throw new Error('unreachable');
      const original = structuredClone({ user, session });
      user.roles.push('admin');
      user.profile.name = 'Mallory';
      session.amr.push('otp');
      const found = await store.findUserById(user.id);
      assert.deepEqual(found, original.user);
      found?.roles.push('admin');
      assert.deepEqual(await store.findUserById(user.id), original.user);
      const foundSession = await store.findSession(original.session.id);
      assert.deepEqual(foundSession, original.session);
      foundSession?.amr.push('otp');
      assert.deepEqual(await store.findSession(original.session.id), original.session);
    });

    test('patches a user: absent fields stay, profile merges, null clears, roles replace', async ({
      store,
    }) => {
      const user = await seedUser(store, {
        roles: ['user'],
        profile: { name: 'Ada', phone_number: '+15550100', locale: 'en' },
      });
      assert.deepEqual(await store.updateUser(user.id, { updatedAtMs: T0 + 1 }), {
        ...user,
        updatedAtMs: T0 + 1,
      });
      const updated = await store.updateUser(user.id, {
        profile: { phone_number: null, name: 'Ada L.', nickname: 'ada', never_set: null },
        roles: ['admin'],
        disabled: true,
        reauthRequired: true,
        totpSecret: 'JBSWY3DPEHPK3PXP',
        updatedAtMs: T0 + 5,
      });
      const expected: UserRecord = {
        ...user,
        profile: { name: 'Ada L.', locale: 'en', nickname: 'ada' },
        roles: ['admin'],
        disabled: true,
        reauthRequired: true,
        totpSecret: 'JBSWY3DPEHPK3PXP',
        updatedAtMs: T0 + 5,
      };
      assert.deepEqual(updated, expected);
      assert.deepEqual(await store.findUserById(user.id), expected);
      const cleared = await store.updateUser(user.id, {
        totpSecret: null,
        disabled: false,
        roles: [],
        passwordHash: 'new-hash',
        bumpTokenVersion: true,
        updatedAtMs: T0 + 6,
      });
      assert.deepEqual(cleared, {
        ...expected,
        totpSecret: null,
        disabled: false,
        roles: [],
        passwordHash: 'new-hash',
        tokenVersion: 2,
        tokenVersionChangedAtMs: T0 + 6,
        updatedAtMs: T0 + 6,
      });
    });

    test('applies concurrent patches atomically: 20 bumps add 20, no profile change is lost', async ({
      store,
    }) => {
      const user = await seedUser(store, { profile: { name: 'Ada' } });
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          store.updateUser(user.id, {
            bumpTokenVersion: true,
            profile: { [`field_${i}`]: String(i) },
            updatedAtMs: T0 + i,
          }),
        ),
      );
      assert.deepEqual(
        results
          .map((u) => (typeof u === 'object' ? u?.tokenVersion : undefined))
          .sort((a = 0, b = 0) => a - b),
        [...Array.from({ length: 20 }, (_, i) => i + 2)],
      );
      const final = await store.findUserById(user.id);
      assert.equal(final?.tokenVersion, 21);
      assert.deepEqual(
        Object.keys(final?.profile ?? {}).sort(),
        ['name', ...Array.from({ length: 20 }, (_, i) => `field_${i}`)].sort(),
      );
    });

    test('lists token-version bumps since an instant, oldest first, bounded', async ({ store }) => {
      const a = await seedUser(store, { id: orderedId('a') });
      const b = await seedUser(store, { id: orderedId('b') });
      const early = await seedUser(store);
      await store.updateUser(early.id, { bumpTokenVersion: true, updatedAtMs: T0 + 10 });
      await store.updateUser(a.id, { bumpTokenVersion: true, updatedAtMs: T0 + 30 });
      await store.updateUser(b.id, { bumpTokenVersion: true, updatedAtMs: T0 + 30 });
      await store.updateUser(early.id, { bumpTokenVersion: true, updatedAtMs: T0 + 40 });
      // Neither a new user nor a change without a bump is listed.
      await seedUser(store, { updatedAtMs: T0 + 35 });
      await store.updateUser(a.id, { profile: { name: 'A' }, updatedAtMs: T0 + 45 });
      assert.deepEqual(await store.listUsersUpdatedSince(T0 + 30, 10), [
        { id: a.id, tokenVersion: 2, updatedAtMs: T0 + 30 },
        { id: b.id, tokenVersion: 2, updatedAtMs: T0 + 30 },
        { id: early.id, tokenVersion: 3, updatedAtMs: T0 + 40 },
      ]);
      assert.deepEqual(ids(await store.listUsersUpdatedSince(T0 + 20, 2)), [a.id, b.id]);
      assert.deepEqual(await store.listUsersUpdatedSince(T0 + 41, 10), []);
    });

    test('keeps users without an email or a password, and the new user fields, as given', async ({
      store,
    }) => {
      const anonymous = await seedUser(store, { email: null, passwordHash: null });
      const twin = await seedUser(store, { email: null, passwordHash: null });
      const enrolling = await seedUser(store, {
        emailVerified: true,
        totpSecret: 'enc:current',
        totpPendingSecret: 'enc:pending',
        totpLastStep: 63_000_000_123,
      });
      assert.deepEqual(await store.findUserById(anonymous.id), anonymous);
      assert.deepEqual(await store.findUserById(twin.id), twin, 'several users may have no email');
      assert.deepEqual(await store.findUserById(enrolling.id), enrolling);
      assert.deepEqual(await store.findUserByEmail(enrolling.email ?? ''), enrolling);
    });

    test('changes, clears and verifies an email; a taken one is email_taken and changes nothing', async ({
      store,
    }) => {
      const user = await seedUser(store);
      const other = await seedUser(store);
      const moved = await store.updateUser(user.id, {
        email: 'new@example.com',
        emailVerified: true,
        updatedAtMs: T0 + 1,
      });
      const expected = { ...user, email: 'new@example.com', emailVerified: true, updatedAtMs: T0 + 1 };
      assert.deepEqual(moved, expected);
      assert.equal(await store.findUserByEmail(user.email ?? ''), null, 'the old address is free');
      assert.deepEqual(await store.findUserByEmail('new@example.com'), expected);
      const same = await store.updateUser(user.id, { email: 'new@example.com', updatedAtMs: T0 + 2 });
      assert.deepEqual(same, { ...expected, updatedAtMs: T0 + 2 }, 'one’s own address is not taken');

      const before = await readState(store, { userIds: [user.id, other.id], sessionIds: [] });
      let called = false;
      const taken = await store.updateUser(
        user.id,
        { email: other.email, passwordHash: 'changed', bumpTokenVersion: true, updatedAtMs: T0 + 3 },
        () => {
          called = true;
          return [makeEvent()];
        },
      );
      assert.equal(taken, 'email_taken');
      assert.equal(called, false, 'no event for a change that did not happen');
      assert.deepEqual(await readState(store, { userIds: [user.id, other.id], sessionIds: [] }), before);

      const cleared = await store.updateUser(user.id, {
        email: null,
        emailVerified: false,
        passwordHash: null,
        totpPendingSecret: 'enc:pending',
        updatedAtMs: T0 + 4,
      });
      const expectedCleared = {
        ...expected,
        email: null,
        emailVerified: false,
        passwordHash: null,
        totpPendingSecret: 'enc:pending',
        updatedAtMs: T0 + 4,
      };
      assert.deepEqual(cleared, expectedCleared);
      assert.equal(await store.findUserByEmail('new@example.com'), null);
      assert.deepEqual(await store.findUserById(user.id), expectedCleared);
      assert.deepEqual(await store.updateUser(other.id, { email: 'new@example.com', updatedAtMs: T0 + 5 }), {
        ...other,
        email: 'new@example.com',
        updatedAtMs: T0 + 5,
      });
    });

    test('writes the events of an update with the updated user, in the same change', async ({ store }) => {
      const user = await seedUser(store);
      const event = makeEvent({ type: 'user.updated' });
      let seen: unknown;
      const updated = await store.updateUser(user.id, { roles: ['admin'], updatedAtMs: T0 + 1 }, (u) => {
        seen = u;
        return [{ ...event, data: { roles: u.roles } }];
      });
      assert.deepEqual(seen, updated);
      const [stored] = await store.listOutbox('pending', 10);
      assert.deepEqual(stored?.data, { roles: ['admin'] });
      assert.equal(stored?.id, event.id);
    });

    test('lists users in id order, page by page', async ({ store }) => {
      const letters = ['d', 'a', 'e', 'c', 'b'];
      const users = [];
      for (const letter of letters) users.push(await seedUser(store, { id: orderedId(letter) }));
      const sorted = [...users].sort((x, y) => (x.id < y.id ? -1 : 1));
      assert.deepEqual(await store.listUsers(null, 2), sorted.slice(0, 2));
      assert.deepEqual(await store.listUsers(sorted[1]?.id ?? '', 2), sorted.slice(2, 4));
      assert.deepEqual(await store.listUsers(sorted[3]?.id ?? '', 2), sorted.slice(4));
      assert.deepEqual(await store.listUsers(sorted[4]?.id ?? '', 2), []);
      assert.deepEqual(await store.listUsers(null, 0), []);
      assert.deepEqual(ids(await store.listUsers('c', 10)), ids(sorted.slice(2)), 'after an id not stored');
    });
  });
}
