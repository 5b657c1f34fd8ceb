import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { OutboxEventInput, Store } from '../store/store.ts';
import type { ConformanceTest } from './store-conformance.ts';
import {
  ids,
  makeEvent,
  makeIdentity,
  makeOneTimeToken,
  makeSession,
  makeUser,
  orderedId,
  outboxIds,
  readState,
  seedSessions,
  seedUser,
  T0,
} from './store-fixtures.ts';

const LEASE = 60_000;

const pendingRecord = (event: OutboxEventInput) => ({
  ...event,
  state: 'pending',
  attempts: 0,
  nextAttemptAtMs: event.createdAtMs,
  deliveredAtMs: null,
  lastError: null,
});

/** The webhook outbox: append, claim under a lease, finish, dead letters, replay; events roll back with their change. */
export function outboxConformance(test: ConformanceTest): void {
  describe('outbox', () => {
    test('appends events as pending, keeping their JSON data exactly, listed newest first', async ({
      store,
    }) => {
      const first = makeEvent({ id: orderedId('a'), createdAtMs: T0 });
      const tie = makeEvent({ id: orderedId('b'), createdAtMs: T0 + 1, data: {} });
      const last = makeEvent({ id: orderedId('c'), createdAtMs: T0 + 1, data: { emoji: '🔑', zero: 0 } });
      await store.appendOutbox([first, tie]);
      await store.appendOutbox([last]);
      await store.appendOutbox([]);
      assert.deepEqual(await store.listOutbox('pending', 10), [last, tie, first].map(pendingRecord));
      assert.deepEqual(ids(await store.listOutbox('pending', 2)), [last.id, tie.id]);
      assert.deepEqual(await store.listOutbox('dead', 10), []);
      await assert.rejects(store.appendOutbox([makeEvent(), { ...first, type: 'again' }]), 'a duplicate id');
      assert.equal((await store.listOutbox('pending', 10)).length, 3, 'the failed append wrote nothing');
    });

    test('claims due events in order, leased to one owner until the lease ends', async ({ store }) => {
      const events = [
        makeEvent({ id: orderedId('b'), createdAtMs: T0 }),
        makeEvent({ id: orderedId('a'), createdAtMs: T0 }),
        makeEvent({ id: orderedId('c'), createdAtMs: T0 - 5 }),
        makeEvent({ id: orderedId('d'), createdAtMs: T0 + 10 }),
      ];
      await store.appendOutbox(events);
      const [b, a, c, later] = events;
      const first = await store.claimOutbox(T0, 2, LEASE, 'one');
      assert.deepEqual(
        first,
        [c, a].map((e) => pendingRecord(e as OutboxEventInput)),
      );
      assert.deepEqual(ids(await store.claimOutbox(T0, 10, LEASE, 'two')), [b?.id], 'not due yet: d');
      assert.deepEqual(await store.claimOutbox(T0 + 10, 10, LEASE, 'three'), [
        pendingRecord(later as OutboxEventInput),
      ]);
      assert.deepEqual(await store.claimOutbox(T0 + LEASE - 1, 10, LEASE, 'four'), [], 'all leased');
      // The lease ends at claim time + lease exactly: the events of `one` are claimable again then.
      assert.deepEqual(ids(await store.claimOutbox(T0 + LEASE, 10, LEASE, 'four')), [c?.id, a?.id, b?.id]);
      assert.deepEqual(await store.claimOutbox(T0 + LEASE, 0, LEASE, 'five'), []);
    });

    test('records deliveries, retries and dead letters; ignores an owner whose lease passed on', async ({
      store,
    }) => {
      const [delivered, retried, dead] = [makeEvent(), makeEvent(), makeEvent()];
      await store.appendOutbox([delivered, retried, dead]);
      assert.equal((await store.claimOutbox(T0, 10, LEASE, 'old')).length, 3);
      // `old` stalls past its lease; `new` takes the events over.
      assert.equal((await store.claimOutbox(T0 + LEASE, 10, LEASE, 'new')).length, 3);
      await store.finishOutboxAttempt(delivered.id, 'old', { delivered: true, atMs: T0 + LEASE + 1 });
      await store.finishOutboxAttempt(dead.id, 'nobody', { delivered: true, atMs: T0 + LEASE + 1 });
      assert.equal((await store.listOutbox('pending', 10)).length, 3, 'stale and foreign owners are ignored');

      await store.finishOutboxAttempt(delivered.id, 'new', { delivered: true, atMs: T0 + LEASE + 2 });
      await store.finishOutboxAttempt(retried.id, 'new', {
        delivered: false,
        atMs: T0 + LEASE + 2,
        nextAttemptAtMs: T0 + LEASE + 5000,
        error: `HTTP 503 ${'x'.repeat(300)}`,
      });
      await store.finishOutboxAttempt(dead.id, 'new', {
        delivered: false,
        atMs: T0 + LEASE + 2,
        nextAttemptAtMs: null,
        error: 'connect ECONNREFUSED',
      });
      await store.finishOutboxAttempt(delivered.id, 'new', {
        delivered: false,
        atMs: T0 + LEASE + 3,
        nextAttemptAtMs: T0,
        error: 'late',
      });
      assert.deepEqual(await store.listOutbox('delivered', 10), [
        { ...pendingRecord(delivered), state: 'delivered', attempts: 1, deliveredAtMs: T0 + LEASE + 2 },
      ]);
      const retry = {
        ...pendingRecord(retried),
        attempts: 1,
        nextAttemptAtMs: T0 + LEASE + 5000,
        lastError: `HTTP 503 ${'x'.repeat(300)}`.slice(0, 200),
      };
      assert.deepEqual(await store.listOutbox('pending', 10), [retry]);
      assert.deepEqual(await store.listOutbox('dead', 10), [
        { ...pendingRecord(dead), state: 'dead', attempts: 1, lastError: 'connect ECONNREFUSED' },
      ]);
      assert.deepEqual(await store.claimOutbox(T0 + LEASE + 4999, 10, LEASE, 'new'), [], 'not due yet');
      assert.deepEqual(await store.claimOutbox(T0 + LEASE + 5000, 10, LEASE, 'new'), [retry]);
    });

    test('replays a dead or delivered event as new, and nothing else', async ({ store }) => {
      const [dead, delivered, pending] = [makeEvent(), makeEvent(), makeEvent()];
      await store.appendOutbox([dead, delivered, pending]);
      assert.equal((await store.claimOutbox(T0, 10, LEASE, 'w')).length, 3);
      const failure = { delivered: false, atMs: T0 + 1, nextAttemptAtMs: null, error: 'HTTP 410' } as const;
      await store.finishOutboxAttempt(dead.id, 'w', failure);
      await store.finishOutboxAttempt(delivered.id, 'w', { delivered: true, atMs: T0 + 1 });
      assert.equal(await store.replayOutbox(pending.id, T0 + 2), false, 'pending already');
      assert.equal(await store.replayOutbox('missing', T0 + 2), false);
      assert.equal(await store.replayOutbox(dead.id, T0 + 100), true);
      assert.equal(await store.replayOutbox(delivered.id, T0 + 100), true);
      const replayed = (await store.listOutbox('pending', 10)).filter((e) => e.id !== pending.id);
      assert.deepEqual(
        replayed.map(({ id, attempts, nextAttemptAtMs, deliveredAtMs }) => ({
          id,
          attempts,
          nextAttemptAtMs,
          deliveredAtMs,
        })),
        [dead, delivered]
          .map((e) => ({ id: e.id, attempts: 0, nextAttemptAtMs: T0 + 100, deliveredAtMs: null }))
          .sort((x, y) => (x.id < y.id ? 1 : -1)),
      );
      assert.deepEqual(await store.listOutbox('dead', 10), []);
      // The replayed events are due again; the pending one is still leased to `w`.
      assert.deepEqual(
        ids(await store.claimOutbox(T0 + 100, 10, LEASE, 'x')).sort(),
        [dead.id, delivered.id].sort(),
      );
    });

    test('rolls every write back with the events it emits: a throwing emit changes nothing', async ({
      store,
    }) => {
      const user = await seedUser(store, { totpPendingSecret: 'enc:pending' });
      const [session, other] = await seedSessions(store, user.id, {}, {});
      const token = makeOneTimeToken(user.id, { kind: 'magic_link' });
      await store.createOneTimeToken(token);
      const fresh = makeUser();
      const newSession = makeSession(user.id, { createdAtMs: T0 + 5 });
      const known = {
        userIds: [user.id, fresh.id],
        sessionIds: [session?.id ?? '', other?.id ?? '', newSession.id],
      };
      const boom = (): never => {
        throw new Error('boom');
      };
      const writes: Array<[string, (s: Store) => Promise<unknown>]> = [
        ['createUser', (s) => s.createUser(fresh, { identity: makeIdentity(), emit: boom })],
        [
          'updateUser',
          (s) => s.updateUser(user.id, { roles: ['x'], bumpTokenVersion: true, updatedAtMs: T0 + 1 }, boom),
        ],
        [
          'setRecoveryCodes',
          (s) => s.setRecoveryCodes(user.id, ['a'], { confirmTotp: true, atMs: T0 + 1, emit: boom }),
        ],
        [
          'createSession',
          (s) => s.createSession(newSession, { maxPerUser: 1, deviceFingerprint: 'd', emit: boom }),
        ],
        ['revokeSession', (s) => s.revokeSession(session?.id ?? '', T0 + 1, 'logout', boom)],
        ['revokeUserSessions', (s) => s.revokeUserSessions(user.id, T0 + 1, 'logout_all', { emit: boom })],
        ['changePassword', (s) => s.changePassword(user.id, 'h', null, T0 + 1, boom)],
        [
          'createOneTimeToken',
          (s) => s.createOneTimeToken(makeOneTimeToken(user.id, { kind: 'magic_link' }), boom),
        ],
        [
          'redeemOneTimeToken',
          (s) =>
            s.redeemOneTimeToken(token.tokenHash, 'magic_link', T0 + 1, {
              userPatch: { emailVerified: true },
              revokeSessions: 'password_reset',
              emit: boom,
            }),
        ],
      ];
      const before = await readState(store, known);
      for (const [name, write] of writes) {
        await assert.rejects(write(store), /boom/, name);
        assert.deepEqual(await readState(store, known), before, `${name} left nothing behind`);
      }
      // Nothing was half-done: the token is still unused, the device still new.
      assert.equal(
        (await store.redeemOneTimeToken(token.tokenHash, 'magic_link', T0 + 2)).status,
        'redeemed',
      );
      assert.equal((await store.createSession(newSession, { deviceFingerprint: 'd' })).newDevice, true);
    });

    test('rolls a write back when its event cannot be stored (a duplicate id)', async ({ store }) => {
      const user = await seedUser(store);
      const existing = makeEvent();
      await store.appendOutbox([existing]);
      const before = await readState(store, { userIds: [user.id], sessionIds: [] });
      await assert.rejects(
        store.updateUser(user.id, { roles: ['admin'], updatedAtMs: T0 + 1 }, () => [makeEvent(), existing]),
      );
      assert.deepEqual(await readState(store, { userIds: [user.id], sessionIds: [] }), before);
      assert.deepEqual(await outboxIds(store), [existing.id]);
    });

    test('creates a user and its first session whole or not at all (a duplicate session id)', async ({
      store,
    }) => {
      const owner = await seedUser(store);
      const [taken] = await seedSessions(store, owner.id, {});
      const user = makeUser();
      const session = makeSession(user.id, { id: taken?.id ?? '' });
      const before = await readState(store, { userIds: [owner.id], sessionIds: [session.id] });
      await assert.rejects(
        store.createUser(user, { session, identity: makeIdentity(), emit: () => [makeEvent()] }),
      );
      assert.equal(await store.findUserById(user.id), null, 'no user left behind');
      assert.equal(await store.findUserByEmail(user.email ?? ''), null);
      assert.deepEqual(await readState(store, { userIds: [owner.id], sessionIds: [session.id] }), before);
      assert.equal(await store.createUser(user), 'created', 'a retry finds the email free');
    });
  });
}
