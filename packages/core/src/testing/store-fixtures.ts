import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type {
  IdentityKey,
  OneTimeTokenRecord,
  OutboxEventInput,
  RotationUpdate,
  SessionRecord,
  SigningKeyRecord,
  Store,
  UserRecord,
} from '../store/store.ts';
import type { ConformanceStore } from './store-conformance.ts';

/** The instant the fixtures start at (2030-01-01): tests never read the wall clock, so they cannot depend on when they run. */
export const T0: number = Date.UTC(2030, 0, 1);
/** One hour in milliseconds. */
export const HOUR = 3_600_000;
const randomId = (): string => randomBytes(16).toString('base64url');

/** An id whose order is the same under byte, ICU and database collations (a lower-case letter first). */
export const orderedId = (letter: string): string => `${letter}${randomBytes(12).toString('hex')}`;

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

/** An unused one-time token of `userId` (random hash, kind `password_reset`), valid for 30 minutes from T0. */
export function makeOneTimeToken(
  userId: string,
  overrides: Partial<OneTimeTokenRecord> = {},
): OneTimeTokenRecord {
  const createdAtMs = overrides.createdAtMs ?? T0;
  return {
    tokenHash: randomBytes(32).toString('base64url'),
    kind: 'password_reset',
    userId,
    email: `${randomBytes(6).toString('hex')}@example.com`,
    createdAtMs,
    expiresAtMs: createdAtMs + HOUR / 2,
    usedAtMs: null,
    ...overrides,
  };
}

/** An outbox event with a random `msg_` id and nested JSON data, created at T0 unless overridden. */
export function makeEvent(overrides: Partial<OutboxEventInput> = {}): OutboxEventInput {
  return {
    id: `msg_${randomBytes(12).toString('hex')}`,
    type: 'test.event',
    data: { n: 1, text: 'é \u2028 "quoted"', nested: { list: [1, 'two', null, true] } },
    createdAtMs: T0,
    ...overrides,
  };
}

/** An identity at a test issuer with a random subject. */
export function makeIdentity(overrides: Partial<IdentityKey> = {}): IdentityKey {
  return { issuer: 'https://idp.example.com', subject: randomBytes(8).toString('hex'), ...overrides };
}

/** The rotation update of a refresh at `nowMs`, tagged in its user agent. */
export const rotation = (nowMs: number, tag = 'rotated'): RotationUpdate => ({
  nowMs,
  idleExpiresAtMs: nowMs + HOUR,
  ip: '198.51.100.1',
  userAgent: `${tag}-agent`,
});

/** `session` as a successful rotation with `update` leaves it. */
export const rotated = (session: SessionRecord, update: RotationUpdate): SessionRecord => ({
  ...session,
  generation: session.generation + 1,
  rotatedAtMs: update.nowMs,
  lastSeenAtMs: update.nowMs,
  idleExpiresAtMs: update.idleExpiresAtMs,
  ip: update.ip,
  userAgent: update.userAgent,
  ...(update.dpopJkt === undefined ? {} : { dpopJkt: update.dpopJkt }),
});

/** The ids of records, in order. */
export const ids = (rows: Array<{ id: string }>): string[] => rows.map((r) => r.id);

/** Creates a user (see {@link makeUser}) and asserts it was created. */
export async function seedUser(store: Store, overrides: Partial<UserRecord> = {}): Promise<UserRecord> {
  const user = makeUser(overrides);
  assert.equal(await store.createUser(user), 'created');
  return user;
}

/** Creates one session of `userId` per overrides object, asserting none evicted another. */
export async function seedSessions(
  store: Store,
  userId: string,
  ...overrides: Array<Partial<SessionRecord>>
): Promise<SessionRecord[]> {
  const sessions = overrides.map((o) => makeSession(userId, o));
  for (const s of sessions) assert.deepEqual((await store.createSession(s)).evicted, []);
  return sessions;
}

/** Outbox events in every state, ids only, sorted: what a write added or kept. */
export async function outboxIds(store: Store): Promise<string[]> {
  const states = ['pending', 'delivered', 'dead'] as const;
  const lists = await Promise.all(states.map((state) => store.listOutbox(state, 10_000)));
  return lists
    .flat()
    .map((e) => e.id)
    .sort();
}

/**
 * Everything the public read methods show about the given users and sessions, and every global
 * list: two reads are equal when no write happened in between.
 */
export async function readState(
  store: Store,
  known: { userIds: readonly string[]; sessionIds: readonly string[] },
): Promise<unknown> {
  const perUser = await Promise.all(
    known.userIds.map(async (id) => ({
      user: await store.findUserById(id),
      identities: await store.listIdentities(id),
      recoveryCodes: await store.countRecoveryCodes(id),
      live: await store.listLiveSessions(id, T0),
    })),
  );
  return {
    perUser,
    users: await store.listUsers(null, 10_000),
    sessions: await Promise.all(known.sessionIds.map((id) => store.findSession(id))),
    outbox: await Promise.all(
      (['pending', 'delivered', 'dead'] as const).map((state) => store.listOutbox(state, 10_000)),
    ),
    keys: await store.listSigningKeys(),
    notBefore: await store.getGlobalNotBeforeMs(),
    revoked: await store.listRevokedSince(0, 10_000),
    versions: await store.listUsersUpdatedSince(0, 10_000),
  };
}

/**
 * `count` stores over one fixture's data for a race: the fixture's store and its peers (other
 * connections or processes), or the one store `count` times when the driver has no peers.
 */
export async function contenders(fixture: ConformanceStore, count: number): Promise<Store[]> {
  const others = fixture.peers ? await fixture.peers(count - 1) : [];
  return [
    fixture.store,
    ...others,
    ...Array.from({ length: count - 1 - others.length }, () => fixture.store),
  ];
}

/** The store of `stores` that call number `i` of a race goes to (round robin). */
export const at = (stores: readonly Store[], i: number): Store => stores[i % stores.length] as Store;
