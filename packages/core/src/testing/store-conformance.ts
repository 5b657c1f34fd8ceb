import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import type { RotationUpdate, SessionRecord, SigningKeyRecord, Store, UserRecord } from '../store/store.ts';

/** A fresh, isolated store for one test; `reopen` (durable drivers) opens the same data again. */
export interface ConformanceStore {
  store: Store;
  reopen?: () => Promise<Store>;
  cleanup: () => Promise<void>;
}

// A fixed instant: tests never read the wall clock, so they cannot depend on when they run.
const T0 = Date.UTC(2030, 0, 1);
const HOUR = 3_600_000;
const randomId = (): string => randomBytes(16).toString('base64url');
// Ids whose order is the same under byte, ICU and database collations (a lower-case letter first).
const orderedId = (letter: string): string => `${letter}${randomBytes(12).toString('hex')}`;

/** A user record for tests: random id and email, created at 2030-01-01; `overrides` win. */
export function makeUser(overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    id: randomId(),
    email: `${randomBytes(8).toString('hex')}@example.com`,
    emailVerified: false,
    passwordHash: '$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA',
    tokenVersion: 1,
    tokenVersionChangedAtMs: null,
    roles: [],
    profile: {},
    disabled: false,
    reauthRequired: false,
    totpSecret: null,
    totpPendingSecret: null,
    totpLastStep: null,
    createdAtMs: T0,
    updatedAtMs: T0,
    ...overrides,
  };
}

/**
 * A live session record of `userId`: random id and salt, created at 2030-01-01 unless
 * `overrides.createdAtMs` says otherwise, idle expiry one hour and absolute expiry one day later.
 */
export function makeSession(userId: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const createdAtMs = overrides.createdAtMs ?? T0;
  return {
    id: randomId(),
    userId,
    createdAtMs,
    authTimeMs: createdAtMs,
    lastSeenAtMs: createdAtMs,
    idleExpiresAtMs: createdAtMs + HOUR,
    absoluteExpiresAtMs: createdAtMs + 24 * HOUR,
    ip: '203.0.113.7',
    userAgent: 'test-agent',
    deviceName: 'Test device',
    amr: ['pwd'],
    acr: null,
    dpopJkt: null,
    generation: 1,
    rotatedAtMs: createdAtMs,
    salt: randomBytes(16).toString('base64url'),
    revokedAtMs: null,
    revokeReason: null,
    ...overrides,
  };
}

/** An unretired signing key record created at `createdAtMs` (key material is a placeholder). */
export function makeSigningKey(
  createdAtMs: number,
  overrides: Partial<SigningKeyRecord> = {},
): SigningKeyRecord {
  return {
    kid: randomId(),
    alg: 'EdDSA',
    publicJwk: '{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}',
    privateJwkEncrypted: randomBytes(48).toString('base64url'),
    createdAtMs,
    retiredAtMs: null,
    ...overrides,
  };
}

const rotation = (nowMs: number, tag = 'rotated'): RotationUpdate => ({
  nowMs,
  idleExpiresAtMs: nowMs + HOUR,
  ip: '198.51.100.1',
  userAgent: `${tag}-agent`,
});

const rotated = (session: SessionRecord, update: RotationUpdate): SessionRecord => ({
  ...session,
  generation: session.generation + 1,
  rotatedAtMs: update.nowMs,
  lastSeenAtMs: update.nowMs,
  idleExpiresAtMs: update.idleExpiresAtMs,
  ip: update.ip,
  userAgent: update.userAgent,
});

const ids = (rows: Array<{ id: string }>): string[] => rows.map((r) => r.id);

async function seedUser(store: Store, overrides: Partial<UserRecord> = {}): Promise<UserRecord> {
  const user = makeUser(overrides);
  assert.equal(await store.createUser(user), 'created');
  return user;
}

async function seedSessions(store: Store, userId: string, ...overrides: Array<Partial<SessionRecord>>) {
  const sessions = overrides.map((o) => makeSession(userId, o));
  for (const s of sessions) assert.deepEqual((await store.createSession(s)).evicted, []);
  return sessions;
}

/**
 * Registers the store conformance suite with `node:test`. Every driver runs it with a `makeStore`
 * that returns a fresh, isolated store (own file, database, schema or key prefix) per test, a
 * `cleanup` that removes it, and for durable drivers a `reopen` that opens the same data again.
 * The suite owns the hard cases: concurrent rotations with one winner, sticky revocation, expiry
 * at the exact instant, atomic multi-row operations and data surviving a reopen. Tests needing a
 * capability the store lacks (`store.capabilities`) are reported as skipped.
 * @example
 * storeConformance('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }));
 */
export function storeConformance(name: string, makeStore: () => Promise<ConformanceStore>): void {
  const test = (
    title: string,
    body: (fixture: ConformanceStore, t: TestContext) => Promise<void>,
    needs?: keyof Store['capabilities'],
  ): void => {
    it(title, async (t) => {
      const fixture = await makeStore();
      try {
        if (needs && !fixture.store.capabilities[needs]) {
          t.skip(`the store is not ${needs}`);
          return;
        }
        await body(fixture, t);
      } finally {
        await fixture.store.close().catch(() => undefined);
        await fixture.cleanup();
      }
    });
  };

  describe(`store conformance: ${name}`, () => {
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
        await store.ping();
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
    });

    describe('sessions', () => {
      test('creates sessions and finds them exactly as given', async ({ store }) => {
        const user = await seedUser(store);
        const [full, bare] = await seedSessions(
          store,
          user.id,
          { amr: ['pwd', 'otp'], generation: 4, rotatedAtMs: T0 + 9, authTimeMs: T0 - 5 },
          { ip: null, userAgent: null, deviceName: null },
        );
        assert.deepEqual(await store.findSession(full?.id ?? ''), full);
        assert.deepEqual(await store.findSession(bare?.id ?? ''), bare);
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

      test('caps concurrent logins: never more live sessions than the cap', async ({ store }) => {
        const user = await seedUser(store);
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            store.createSession(makeSession(user.id, { createdAtMs: T0 + i }), { maxPerUser: 3 }),
          ),
        );
        const evicted = results.flatMap((r) => r.evicted);
        assert.equal(new Set(ids(evicted)).size, 7);
        assert.ok(evicted.every((s) => s.revokeReason === 'evicted'));
        assert.equal((await store.listLiveSessions(user.id, T0 + 100)).length, 3);
      });

      test('rotates by compare-and-set: of 50 concurrent rotations exactly one wins', async ({ store }) => {
        const user = await seedUser(store);
        const [session] = await seedSessions(store, user.id, {});
        if (!session) throw new Error('unreachable');
        const updates = Array.from({ length: 50 }, (_, i) => rotation(T0 + 1000 + i, `racer-${i}`));
        const results = await Promise.all(updates.map((u) => store.rotateSession(session.id, 1, u)));
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
    });

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
        const again = await store.changePassword(user.id, 'newer-hash', null, T0 + 60);
        assert.equal(again?.user.tokenVersion, 5);
        assert.deepEqual(ids(again?.revoked ?? []), [keep?.id]);
      });

      test('emergency revoke-all ends every session and never moves the not-before back', async ({
        store,
      }) => {
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
        const [
          idleGone,
          absoluteGone,
          revokedGone,
          idleAtCut,
          absoluteAtCut,
          revokedAtCut,
          revokedLate,
          live,
        ] = await seedSessions(
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

    describe('lifecycle', () => {
      test('pings while open; close is idempotent', async ({ store }) => {
        await store.ping();
        await store.close();
        await store.close();
      });

      test(
        'keeps everything across a close and reopen',
        async ({ store, reopen }) => {
          assert.ok(reopen, 'a durable store must provide reopen');
          const user = await seedUser(store, {
            roles: ['admin'],
            profile: { name: 'Ada' },
            totpSecret: 'JBSWY3DP',
          });
          const changed = await store.updateUser(user.id, { bumpTokenVersion: true, updatedAtMs: T0 + 1 });
          const [ended, kept] = await seedSessions(store, user.id, {}, { amr: ['pwd', 'otp'] });
          if (!ended || !kept) throw new Error('unreachable');
          const first = await store.rotateSession(ended.id, 1, rotation(T0 + 5));
          await store.rotateSession(ended.id, 2, rotation(T0 + 6));
          await store.revokeSession(kept.id, T0 + 7, 'logout');
          const key = makeSigningKey(T0);
          const newer = makeSigningKey(T0 + 1);
          await store.addSigningKey(key);
          await store.addSigningKey(newer);
          const [live] = await seedSessions(store, user.id, { createdAtMs: T0 + 8 });
          await store.emergencyRevokeAll(T0 + 9);
          const before = {
            user: await store.findUserById(user.id),
            sessions: await Promise.all([ended, kept, live].map((s) => store.findSession(s?.id ?? ''))),
            keys: await store.listSigningKeys(),
          };
          assert.equal(before.sessions[0]?.generation, 3);
          assert.equal(first?.generation, 2);
          await store.close();
          const again = await reopen();
          try {
            assert.deepEqual(await again.findUserById(user.id), changed);
            assert.deepEqual(before.user, changed);
            assert.deepEqual(
              await Promise.all([ended, kept, live].map((s) => again.findSession(s?.id ?? ''))),
              before.sessions,
            );
            assert.deepEqual(await again.listSigningKeys(), before.keys);
            assert.equal(await again.getGlobalNotBeforeMs(), T0 + 9);
            // The reopened store still enforces the compare-and-set on the stored generation.
            const [fresh] = await seedSessions(again, user.id, { createdAtMs: T0 + 10 });
            assert.equal(await again.rotateSession(fresh?.id ?? '', 2, rotation(T0 + 11)), null);
            assert.equal((await again.rotateSession(fresh?.id ?? '', 1, rotation(T0 + 11)))?.generation, 2);
          } finally {
            await again.close();
          }
        },
        'durable',
      );
    });
  });
}
