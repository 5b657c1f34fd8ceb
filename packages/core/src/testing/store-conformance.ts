import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import type { SessionRecord, SigningKeyRecord, Store, UserRecord } from '../store/store.ts';

/** A fresh, isolated store for one test; `reopen` (durable drivers) opens the same data again. */
export interface ConformanceStore {
  store: Store;
  reopen?: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

const T0 = Date.UTC(2030, 0, 1);
const id = (): string => randomBytes(16).toString('base64url');

/** A user record for tests; `overrides` win. */
export function makeUser(overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    id: id(),
    email: `${id().toLowerCase()}@example.com`,
    passwordHash: '$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA',
    tokenVersion: 1,
    roles: [],
    profile: {},
    disabled: false,
    reauthRequired: false,
    totpSecret: null,
    createdAtMs: T0,
    updatedAtMs: T0,
    ...overrides,
  };
}

/** A live session record for `userId`, created at `T0` unless overridden. */
export function makeSession(userId: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const createdAtMs = overrides.createdAtMs ?? T0;
  return {
    id: id(),
    userId,
    createdAtMs,
    authTimeMs: createdAtMs,
    lastSeenAtMs: createdAtMs,
    idleExpiresAtMs: createdAtMs + 3_600_000,
    absoluteExpiresAtMs: createdAtMs + 86_400_000,
    ip: '203.0.113.7',
    userAgent: 'test-agent',
    deviceName: 'Test device',
    amr: ['pwd'],
    generation: 1,
    rotatedAtMs: createdAtMs,
    salt: randomBytes(16).toString('base64url'),
    revokedAtMs: null,
    revokeReason: null,
    ...overrides,
  };
}

function makeKey(createdAtMs: number): SigningKeyRecord {
  return {
    kid: id(),
    alg: 'EdDSA',
    publicJwk: '{"kty":"OKP"}',
    privateJwkEncrypted: 'sealed',
    createdAtMs,
    retiredAtMs: null,
  };
}

const rotation = (nowMs: number, idleExpiresAtMs = nowMs + 3_600_000) => ({
  nowMs,
  idleExpiresAtMs,
  ip: '198.51.100.1',
  userAgent: 'rotated-agent',
});

/**
 * The store conformance suite: every driver runs it through `makeStore`, which must return a fresh,
 * isolated store (own file, database, schema or key prefix) per test. It owns the hard cases:
 * concurrent rotations with one winner, sticky revocation, expiry at the exact instant, atomic
 * multi-row operations and data surviving a reopen. Tests needing a capability the store lacks skip.
 */
export function storeConformance(name: string, makeStore: () => Promise<ConformanceStore>): void {
  const withStore = (
    title: string,
    body: (s: ConformanceStore) => Promise<void>,
    skip?: (s: Store) => string | false,
  ) =>
    it(title, async (t) => {
      const fixture = await makeStore();
      try {
        const reason = skip?.(fixture.store);
        if (reason) {
          t.skip(reason);
          return;
        }
        await body(fixture);
      } finally {
        await fixture.store.close().catch(() => undefined);
        await fixture.cleanup();
      }
    });

  describe(`store conformance: ${name}`, () => {
    withStore(
      'creates users, refuses a taken email without writing, returns null for missing rows',
      async ({ store }) => {
        const user = makeUser({ profile: { name: 'Ada' }, roles: ['admin'] });
        assert.equal(await store.createUser(user), 'created');
        assert.deepEqual(await store.findUserById(user.id), user);
        assert.deepEqual(await store.findUserByEmail(user.email), user);
        const twin = makeUser({ email: user.email });
        assert.equal(await store.createUser(twin), 'email_taken');
        assert.equal(await store.findUserById(twin.id), null);
        assert.equal(await store.findUserById('missing'), null);
        assert.equal(await store.findUserByEmail('missing@example.com'), null);
        assert.equal(await store.findSession('missing'), null);
        assert.equal(await store.updateUser('missing', { updatedAtMs: T0 }), null);
      },
    );

    withStore(
      'patches users: profile merge and clearing, roles, flags, atomic version bumps',
      async ({ store }) => {
        const user = makeUser({ profile: { name: 'Ada', phone_number: '+100' } });
        await store.createUser(user);
        const updated = await store.updateUser(user.id, {
          profile: { phone_number: null, name: 'Ada L.' },
          roles: ['admin'],
          disabled: true,
          reauthRequired: true,
          totpSecret: 'JBSWY3DP',
          updatedAtMs: T0 + 5,
        });
        assert.deepEqual(updated?.profile, { name: 'Ada L.' });
        assert.deepEqual(updated?.roles, ['admin']);
        assert.equal(updated?.disabled, true);
        assert.equal(updated?.reauthRequired, true);
        assert.equal(updated?.totpSecret, 'JBSWY3DP');
        assert.equal(updated?.updatedAtMs, T0 + 5);
        assert.equal(updated?.tokenVersion, 1);
        await Promise.all(
          Array.from({ length: 20 }, () =>
            store.updateUser(user.id, { bumpTokenVersion: true, updatedAtMs: T0 + 6 }),
          ),
        );
        assert.equal((await store.findUserById(user.id))?.tokenVersion, 21);
        const cleared = await store.updateUser(user.id, { totpSecret: null, updatedAtMs: T0 + 7 });
        assert.equal(cleared?.totpSecret, null);
        assert.equal(cleared?.passwordHash, user.passwordHash);
      },
    );

    withStore(
      'rotates by compare-and-set: of 50 concurrent rotations exactly one wins',
      async ({ store }) => {
        const user = makeUser();
        await store.createUser(user);
        const session = makeSession(user.id);
        await store.createSession(session);
        const results = await Promise.all(
          Array.from({ length: 50 }, () => store.rotateSession(session.id, 1, rotation(T0 + 1000))),
        );
        const winners = results.filter((r) => r !== null);
        assert.equal(winners.length, 1);
        assert.equal(winners[0]?.generation, 2);
        assert.equal(winners[0]?.rotatedAtMs, T0 + 1000);
        assert.equal(winners[0]?.lastSeenAtMs, T0 + 1000);
        assert.equal(winners[0]?.ip, '198.51.100.1');
        assert.equal(winners[0]?.userAgent, 'rotated-agent');
        assert.equal((await store.findSession(session.id))?.generation, 2);
        assert.equal(await store.rotateSession(session.id, 1, rotation(T0 + 2000)), null, 'stale generation');
        assert.equal(await store.rotateSession('missing', 1, rotation(T0)), null);
        await store.revokeSession(session.id, T0 + 3000, 'logout');
        assert.equal(await store.rotateSession(session.id, 2, rotation(T0 + 4000)), null, 'revoked');
      },
    );

    withStore('revokes stickily: a second revocation changes nothing', async ({ store }) => {
      const user = makeUser();
      await store.createUser(user);
      const session = makeSession(user.id);
      await store.createSession(session);
      const first = await store.revokeSession(session.id, T0 + 10, 'logout');
      assert.equal(first?.revokedAtMs, T0 + 10);
      assert.equal(first?.revokeReason, 'logout');
      assert.equal(await store.revokeSession(session.id, T0 + 20, 'admin'), null);
      const row = await store.findSession(session.id);
      assert.equal(row?.revokedAtMs, T0 + 10);
      assert.equal(row?.revokeReason, 'logout');
      assert.equal(await store.revokeSession('missing', T0, 'logout'), null);
    });

    withStore('lists live sessions exactly at the expiry instants, oldest first', async ({ store }) => {
      const user = makeUser();
      await store.createUser(user);
      const idle = makeSession(user.id, {
        createdAtMs: T0,
        idleExpiresAtMs: T0 + 100,
        absoluteExpiresAtMs: T0 + 1000,
      });
      const absolute = makeSession(user.id, {
        createdAtMs: T0 + 1,
        idleExpiresAtMs: T0 + 900,
        absoluteExpiresAtMs: T0 + 200,
      });
      const revoked = makeSession(user.id, { createdAtMs: T0 + 2 });
      const other = makeSession(makeUser().id);
      for (const s of [idle, absolute, revoked]) await store.createSession(s);
      await store.createUser({ ...makeUser(), id: other.userId });
      await store.createSession(other);
      await store.revokeSession(revoked.id, T0 + 3, 'logout');
      const ids = async (now: number) => (await store.listLiveSessions(user.id, now)).map((s) => s.id);
      assert.deepEqual(await ids(T0 + 99), [idle.id, absolute.id]);
      assert.deepEqual(await ids(T0 + 100), [absolute.id]);
      assert.deepEqual(await ids(T0 + 199), [absolute.id]);
      assert.deepEqual(await ids(T0 + 200), []);
    });

    withStore(
      'evicts the oldest live sessions past the cap, atomically with the insert',
      async ({ store }) => {
        const user = makeUser();
        await store.createUser(user);
        const sessions = [0, 1, 2].map((i) => makeSession(user.id, { createdAtMs: T0 + i * 10 }));
        for (const s of sessions) assert.deepEqual(await store.createSession(s, 3), []);
        const fourth = makeSession(user.id, { createdAtMs: T0 + 30 });
        const evicted = await store.createSession(fourth, 2);
        assert.deepEqual(
          evicted.map((s) => s.id),
          [sessions[0]?.id, sessions[1]?.id],
        );
        assert.ok(evicted.every((s) => s.revokeReason === 'evicted' && s.revokedAtMs === T0 + 30));
        assert.deepEqual(
          (await store.listLiveSessions(user.id, T0 + 31)).map((s) => s.id),
          [sessions[2]?.id, fourth.id],
        );
      },
    );

    withStore(
      'revokes all of a user’s sessions but one, and changes a password atomically',
      async ({ store }) => {
        const user = makeUser();
        await store.createUser(user);
        const [keep, a, b] = [0, 1, 2].map((i) => makeSession(user.id, { createdAtMs: T0 + i }));
        for (const s of [keep, a, b]) await store.createSession(s as SessionRecord);
        const changed = await store.changePassword(user.id, 'new-hash', keep?.id ?? null, T0 + 50);
        assert.equal(changed?.user.passwordHash, 'new-hash');
        assert.equal(changed?.user.tokenVersion, 2);
        assert.deepEqual(changed?.revoked.map((s) => s.id).sort(), [a?.id, b?.id].sort());
        assert.ok(changed?.revoked.every((s) => s.revokeReason === 'password_changed'));
        assert.equal((await store.findSession(keep?.id ?? ''))?.revokedAtMs, null);
        assert.equal(await store.changePassword('missing', 'h', null, T0), null);
        const more = makeSession(user.id, { createdAtMs: T0 + 60 });
        await store.createSession(more);
        const revoked = await store.revokeUserSessions(user.id, T0 + 70, 'logout_all', more.id);
        assert.deepEqual(
          revoked.map((s) => s.id),
          [keep?.id],
        );
        assert.equal((await store.revokeUserSessions(user.id, T0 + 80, 'logout_all')).length, 1);
      },
    );

    withStore(
      'emergency revoke-all ends every session and never moves the not-before back',
      async ({ store }) => {
        const users = [makeUser(), makeUser()];
        for (const u of users) {
          await store.createUser(u);
          await store.createSession(makeSession(u.id));
        }
        assert.equal(await store.getGlobalNotBeforeMs(), null);
        assert.equal(await store.emergencyRevokeAll(T0 + 100), 2);
        assert.equal(await store.getGlobalNotBeforeMs(), T0 + 100);
        assert.equal(await store.emergencyRevokeAll(T0 + 50), 0);
        assert.equal(await store.getGlobalNotBeforeMs(), T0 + 100);
        for (const u of users) assert.deepEqual(await store.listLiveSessions(u.id, T0 + 1), []);
      },
    );

    withStore(
      'sweeps only rows that ended before the cut-off, at most `limit` at a time',
      async ({ store }) => {
        const user = makeUser();
        await store.createUser(user);
        const expired = [0, 1, 2].map(() =>
          makeSession(user.id, { idleExpiresAtMs: T0 + 10, absoluteExpiresAtMs: T0 + 1000 }),
        );
        const revokedEarly = makeSession(user.id);
        const revokedLate = makeSession(user.id);
        const live = makeSession(user.id);
        for (const s of [...expired, revokedEarly, revokedLate, live]) await store.createSession(s);
        await store.revokeSession(revokedEarly.id, T0 + 5, 'logout');
        await store.revokeSession(revokedLate.id, T0 + 500, 'logout');
        assert.equal(await store.sweepSessions(T0 + 100, 2), 2);
        assert.equal(await store.sweepSessions(T0 + 100, 10), 2);
        assert.equal(await store.sweepSessions(T0 + 100, 10), 0);
        assert.ok(await store.findSession(revokedLate.id));
        assert.ok(await store.findSession(live.id));
      },
    );

    withStore(
      'lists revocations and user changes since an instant, oldest first, bounded',
      async ({ store }) => {
        const user = makeUser();
        await store.createUser(user);
        const sessions = [0, 1, 2].map(() => makeSession(user.id));
        for (const s of sessions) await store.createSession(s);
        await store.revokeSession(sessions[2]?.id ?? '', T0 + 30, 'logout');
        await store.revokeSession(sessions[0]?.id ?? '', T0 + 10, 'logout');
        await store.revokeSession(sessions[1]?.id ?? '', T0 + 20, 'admin');
        assert.deepEqual(
          (await store.listRevokedSince(T0 + 15, 10)).map((s) => s.revokedAtMs),
          [T0 + 20, T0 + 30],
        );
        assert.equal((await store.listRevokedSince(T0, 1)).length, 1);
        await store.updateUser(user.id, { bumpTokenVersion: true, updatedAtMs: T0 + 40 });
        assert.deepEqual(await store.listUsersUpdatedSince(T0 + 40, 10), [
          { id: user.id, tokenVersion: 2, updatedAtMs: T0 + 40 },
        ]);
        assert.deepEqual(await store.listUsersUpdatedSince(T0 + 41, 10), []);
      },
    );

    withStore(
      'keeps signing keys: newest first, adding one retires the others, deletion',
      async ({ store }) => {
        const first = makeKey(T0);
        const second = makeKey(T0 + 100);
        await store.addSigningKey(first);
        await store.addSigningKey(second);
        const keys = await store.listSigningKeys();
        assert.deepEqual(
          keys.map((k) => k.kid),
          [second.kid, first.kid],
        );
        assert.equal(keys[0]?.retiredAtMs, null);
        assert.equal(keys[1]?.retiredAtMs, T0 + 100);
        await store.deleteSigningKey(first.kid);
        assert.deepEqual(
          (await store.listSigningKeys()).map((k) => k.kid),
          [second.kid],
        );
        await store.ping();
      },
    );

    withStore(
      'keeps everything across a close and reopen',
      async ({ store, reopen }) => {
        const user = makeUser({ roles: ['admin'], profile: { name: 'Ada' } });
        await store.createUser(user);
        const session = makeSession(user.id);
        await store.createSession(session);
        const rotated = await store.rotateSession(session.id, 1, rotation(T0 + 5));
        const key = makeKey(T0);
        await store.addSigningKey(key);
        await store.emergencyRevokeAll(T0 + 9);
        await store.close();
        const again = await (reopen as () => Promise<Store>)();
        try {
          assert.deepEqual(await again.findUserById(user.id), user);
          const row = await again.findSession(session.id);
          assert.equal(row?.generation, rotated?.generation);
          assert.equal(row?.revokeReason, 'emergency');
          assert.deepEqual(await again.listSigningKeys(), [key]);
          assert.equal(await again.getGlobalNotBeforeMs(), T0 + 9);
        } finally {
          await again.close();
        }
      },
      (store) => (store.capabilities.durable ? false : 'not durable'),
    );
  });
}
