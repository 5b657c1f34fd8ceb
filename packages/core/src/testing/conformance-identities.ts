import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ConformanceTest } from './store-conformance.ts';
import {
  makeEvent,
  makeIdentity,
  makeSession,
  makeUser,
  outboxIds,
  readState,
  seedUser,
  T0,
} from './store-fixtures.ts';

/** External identities: many per user, unique per (issuer, subject), created with a user or linked later. */
export function identitiesConformance(test: ConformanceTest): void {
  describe('identities', () => {
    test('creates a user with an identity, its first session and its events in one change', async ({
      store,
    }) => {
      const user = makeUser({ email: null, passwordHash: null });
      const identity = makeIdentity();
      const session = makeSession(user.id);
      const event = makeEvent({ type: 'user.created' });
      let seen: unknown;
      const created = await store.createUser(user, {
        identity,
        session,
        deviceFingerprint: 'laptop',
        emit: (result) => {
          seen = result;
          return [event];
        },
      });
      assert.equal(created, 'created');
      assert.deepEqual(seen, { newDevice: true });
      assert.deepEqual(await store.findUserByIdentity(identity), user);
      assert.deepEqual(await store.listIdentities(user.id), [
        { ...identity, userId: user.id, createdAtMs: user.createdAtMs },
      ]);
      assert.deepEqual(await store.findSession(session.id), session);
      assert.deepEqual(await outboxIds(store), [event.id]);
    });

    test('refuses a taken identity with identity_taken and writes nothing', async ({ store }) => {
      const owner = makeUser();
      const identity = makeIdentity();
      assert.equal(await store.createUser(owner, { identity }), 'created');
      const before = await readState(store, { userIds: [owner.id], sessionIds: [] });
      const twin = makeUser();
      const session = makeSession(twin.id);
      const result = await store.createUser(twin, {
        identity,
        session,
        emit: () => {
          throw new Error('emit must not run when nothing is created');
        },
      });
      assert.equal(result, 'identity_taken');
      assert.equal(await store.findUserById(twin.id), null);
      assert.equal(await store.findUserByEmail(twin.email ?? ''), null);
      assert.equal(await store.findSession(session.id), null);
      assert.deepEqual(await readState(store, { userIds: [owner.id], sessionIds: [] }), before);
      assert.deepEqual(await store.findUserByIdentity(identity), owner);
    });

    test('links many identities per user, lists them oldest first, and refuses another user’s', async ({
      store,
    }) => {
      const user = await seedUser(store);
      const other = await seedUser(store);
      const google = makeIdentity({ issuer: 'https://accounts.google.com', subject: '1234' });
      // The same subject at another issuer is another account.
      const github = makeIdentity({ issuer: 'https://github.com', subject: '1234' });
      const apple = makeIdentity({ issuer: 'https://appleid.apple.com', subject: '1234' });
      assert.equal(await store.linkIdentity(user.id, google, T0 + 20), 'linked');
      assert.equal(await store.linkIdentity(user.id, github, T0 + 10), 'linked');
      assert.equal(await store.linkIdentity(user.id, apple, T0 + 20), 'linked');
      assert.equal(await store.linkIdentity(user.id, google, T0 + 30), 'already_linked');
      assert.equal(await store.linkIdentity(other.id, google, T0 + 40), 'taken');
      assert.deepEqual(await store.listIdentities(user.id), [
        { ...github, userId: user.id, createdAtMs: T0 + 10 },
        // Same instant: by issuer (accounts.google.com before appleid.apple.com).
        { ...google, userId: user.id, createdAtMs: T0 + 20 },
        { ...apple, userId: user.id, createdAtMs: T0 + 20 },
      ]);
      assert.deepEqual(await store.listIdentities(other.id), []);
      for (const identity of [google, github, apple]) {
        assert.deepEqual(await store.findUserByIdentity(identity), user);
      }
      assert.equal(await store.findUserByIdentity({ ...google, subject: '12345' }), null);
      assert.equal(
        await store.findUserByIdentity({ ...google, issuer: 'https://accounts.google.com/' }),
        null,
      );
    });

    test('unlinks only the user’s own identity, which another user may then link', async ({ store }) => {
      const user = await seedUser(store);
      const other = await seedUser(store);
      const identity = makeIdentity();
      await store.linkIdentity(user.id, identity, T0);
      assert.equal(await store.unlinkIdentity(other.id, identity), false);
      assert.deepEqual(await store.findUserByIdentity(identity), user);
      assert.equal(await store.unlinkIdentity(user.id, identity), true);
      assert.equal(await store.unlinkIdentity(user.id, identity), false);
      assert.equal(await store.findUserByIdentity(identity), null);
      assert.deepEqual(await store.listIdentities(user.id), []);
      assert.equal(await store.linkIdentity(other.id, identity, T0 + 1), 'linked');
      assert.deepEqual(await store.findUserByIdentity(identity), other);
    });

    test('links nothing to a user that does not exist', async ({ store }) => {
      const identity = makeIdentity();
      assert.notEqual(await store.linkIdentity('missing', identity, T0), 'linked');
      assert.equal(await store.findUserByIdentity(identity), null);
      assert.deepEqual(await store.listIdentities('missing'), []);
    });
  });
}
