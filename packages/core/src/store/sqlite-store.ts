import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLOutputValue } from 'node:sqlite';
import { StoreUnavailableError } from '../errors.ts';
import type {
  RevokeReason,
  RotationUpdate,
  SessionRecord,
  SigningKeyRecord,
  Store,
  UserRecord,
} from './store.ts';

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** The database file (created with its directory if missing), or `:memory:`. */
  path: string;
  /** How long a writer waits for another process's lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number;
}

type Row = Record<string, SQLOutputValue>;

/**
 * Schema versions, applied in order; `PRAGMA user_version` counts the applied ones. A released
 * migration never changes: databases already past it would never see the edit.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     id TEXT PRIMARY KEY,
     email TEXT NOT NULL UNIQUE,
     password_hash TEXT NOT NULL,
     token_version INTEGER NOT NULL,
     roles TEXT NOT NULL,
     profile TEXT NOT NULL,
     disabled INTEGER NOT NULL,
     reauth_required INTEGER NOT NULL,
     totp_secret TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   ) STRICT;
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at INTEGER NOT NULL,
     auth_time INTEGER NOT NULL,
     last_seen_at INTEGER NOT NULL,
     idle_expires_at INTEGER NOT NULL,
     absolute_expires_at INTEGER NOT NULL,
     ip TEXT,
     user_agent TEXT,
     device_name TEXT,
     amr TEXT NOT NULL,
     generation INTEGER NOT NULL,
     rotated_at INTEGER NOT NULL,
     salt TEXT NOT NULL,
     revoked_at INTEGER,
     revoke_reason TEXT
   ) STRICT;
   CREATE INDEX sessions_user_idx ON sessions (user_id, created_at);
   CREATE INDEX sessions_revoked_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
   CREATE INDEX sessions_ended_idx ON sessions (min(idle_expires_at, absolute_expires_at));
   CREATE INDEX users_updated_idx ON users (updated_at);
   CREATE TABLE signing_keys (
     kid TEXT PRIMARY KEY,
     alg TEXT NOT NULL,
     public_jwk TEXT NOT NULL,
     private_jwk_encrypted TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     retired_at INTEGER
   ) STRICT;
   CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;`,
  // users_updated_idx was once added to version 1 after it shipped: files made before that lack it.
  'CREATE INDEX IF NOT EXISTS users_updated_idx ON users (updated_at);',
  // The feed lists token-version bumps only: a new user must not add an entry to every verifier.
  `ALTER TABLE users ADD COLUMN token_version_changed_at INTEGER;
   UPDATE users SET token_version_changed_at = updated_at WHERE token_version > 1;
   CREATE INDEX users_version_changed_idx ON users (token_version_changed_at)
     WHERE token_version_changed_at IS NOT NULL;`,
];

/** The schema version this code writes; a file at a higher version came from newer code. */
export const SQLITE_SCHEMA_VERSION: number = MIGRATIONS.length;

const SESSION_COLUMNS = `id, user_id, created_at, auth_time, last_seen_at, idle_expires_at, absolute_expires_at,
  ip, user_agent, device_name, amr, generation, rotated_at, salt, revoked_at, revoke_reason`;
const LIVE = 'revoked_at IS NULL AND :now < idle_expires_at AND :now < absolute_expires_at';

const text = (value: SQLOutputValue | undefined): string | null => (typeof value === 'string' ? value : null);
const int = (value: SQLOutputValue | undefined): number | null => (typeof value === 'number' ? value : null);

function toUser(row: Row): UserRecord {
  return {
    id: row.id as string,
    email: text(row.email),
    // Filled by the schema for identities, verification and TOTP replay (stores helper, round 1).
    emailVerified: row.email_verified === 1,
    passwordHash: text(row.password_hash),
    tokenVersion: row.token_version as number,
    tokenVersionChangedAtMs: int(row.token_version_changed_at),
    roles: JSON.parse(row.roles as string) as string[],
    profile: JSON.parse(row.profile as string) as Record<string, string | null>,
    disabled: row.disabled === 1,
    reauthRequired: row.reauth_required === 1,
    totpSecret: text(row.totp_secret),
    totpPendingSecret: text(row.totp_pending_secret),
    totpLastStep: int(row.totp_last_step),
    createdAtMs: row.created_at as number,
    updatedAtMs: row.updated_at as number,
  };
}

function toSession(row: Row): SessionRecord {
  return {
    id: row.id as string,
    userId: row.user_id as string,
    createdAtMs: row.created_at as number,
    authTimeMs: row.auth_time as number,
    lastSeenAtMs: row.last_seen_at as number,
    idleExpiresAtMs: row.idle_expires_at as number,
    absoluteExpiresAtMs: row.absolute_expires_at as number,
    ip: text(row.ip),
    userAgent: text(row.user_agent),
    deviceName: text(row.device_name),
    amr: JSON.parse(row.amr as string) as string[],
    acr: text(row.acr),
    dpopJkt: text(row.dpop_jkt),
    generation: row.generation as number,
    rotatedAtMs: row.rotated_at as number,
    salt: row.salt as string,
    revokedAtMs: int(row.revoked_at),
    revokeReason: text(row.revoke_reason) as RevokeReason | null,
  };
}

function toKey(row: Row): SigningKeyRecord {
  return {
    kid: row.kid as string,
    alg: row.alg as string,
    publicJwk: row.public_jwk as string,
    privateJwkEncrypted: row.private_jwk_encrypted as string,
    createdAtMs: row.created_at as number,
    retiredAtMs: int(row.retired_at),
  };
}

const byAgeThenId = (a: SessionRecord, b: SessionRecord): number =>
  a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

// SQLITE_BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN, PROTOCOL: the file is held, gone or failing,
// so the caller should try again later. Constraint and schema errors are bugs and stay as they are.
const UNAVAILABLE = new Set([5, 6, 8, 10, 13, 14, 15]);

function toStoreError(error: unknown): unknown {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === 'number' && UNAVAILABLE.has(code & 0xff) ? new StoreUnavailableError(error) : error;
}

/** Runs `work` inside `BEGIN IMMEDIATE`: the write lock is taken first, so no other writer interleaves. */
function inTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    // SQLite already rolled back after some I/O errors; a second ROLLBACK would hide the cause.
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

/**
 * Retries `work` while SQLite answers SQLITE_BUSY, for at most `timeoutMs`. Needed at open only:
 * switching a new file to WAL, or reading one while another process recovers its WAL, returns
 * BUSY at once without calling the busy handler, so processes starting together would fail.
 */
function retryWhileBusy<T>(timeoutMs: number, work: () => T): T {
  const deadline = performance.now() + timeoutMs;
  for (let delayMs = 1; ; delayMs = Math.min(delayMs * 2, 50)) {
    try {
      return work();
    } catch (error) {
      const code = (error as { errcode?: unknown } | null)?.errcode;
      if (typeof code !== 'number' || (code & 0xff) !== 5 || performance.now() >= deadline) throw error;
      // createSqliteStore is synchronous, so the wait blocks; it happens only while opening.
      Atomics.wait(SLEEPER, 0, 0, delayMs);
    }
  }
}

function migrate(db: DatabaseSync): void {
  const version = (): number => db.prepare('PRAGMA user_version').get()?.user_version as number;
  if (version() === MIGRATIONS.length) return;
  // Re-read under the write lock: of two processes starting at once, the second finds it done.
  inTransaction(db, () => {
    const current = version();
    if (current > MIGRATIONS.length) {
      throw new Error(
        `The database schema is at version ${current}, newer than this Tessera understands (${MIGRATIONS.length}); upgrade Tessera.`,
      );
    }
    for (const sql of MIGRATIONS.slice(current)) db.exec(sql);
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`);
  });
}

function prepareStatements(db: DatabaseSync) {
  const sql = (source: string) => db.prepare(source);
  const revoke = (where: string) =>
    sql(`UPDATE sessions SET revoked_at = :at, revoke_reason = :reason
         WHERE ${where} AND revoked_at IS NULL RETURNING *`);
  return {
    insertUser: sql(`INSERT INTO users (id, email, password_hash, token_version, roles, profile, disabled,
        reauth_required, totp_secret, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
    userById: sql('SELECT * FROM users WHERE id = ?'),
    userByEmail: sql('SELECT * FROM users WHERE email = ?'),
    // json_patch is RFC 7396 merge: a null member deletes the field, exactly UserPatch.profile.
    updateUser: sql(`UPDATE users SET
        password_hash = coalesce(:passwordHash, password_hash),
        roles = coalesce(:roles, roles),
        profile = json_patch(profile, :profile),
        disabled = coalesce(:disabled, disabled),
        reauth_required = coalesce(:reauthRequired, reauth_required),
        totp_secret = iif(:setTotp, :totpSecret, totp_secret),
        token_version = token_version + :bump,
        token_version_changed_at = iif(:bump, :updatedAt, token_version_changed_at),
        updated_at = :updatedAt
      WHERE id = :id RETURNING *`),
    usersUpdatedSince: sql(`SELECT id, token_version, token_version_changed_at AS updated_at FROM users
      WHERE token_version_changed_at >= ? ORDER BY token_version_changed_at ASC, id ASC LIMIT ?`),

    insertSession: sql(`INSERT INTO sessions (${SESSION_COLUMNS})
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
    sessionById: sql('SELECT * FROM sessions WHERE id = ?'),
    liveSessions: sql(
      `SELECT * FROM sessions WHERE user_id = :user AND ${LIVE} ORDER BY created_at ASC, id ASC`,
    ),
    rotate: sql(`UPDATE sessions SET generation = generation + 1, rotated_at = :now, last_seen_at = :now,
        idle_expires_at = :idle, ip = :ip, user_agent = :userAgent
      WHERE id = :id AND generation = :from AND revoked_at IS NULL RETURNING *`),
    revokeOne: revoke('id = :id'),
    revokeUser: revoke('user_id = :user AND id IS NOT :except'),
    revokeAll: sql(
      "UPDATE sessions SET revoked_at = ?, revoke_reason = 'emergency' WHERE revoked_at IS NULL",
    ),
    raiseNotBefore: sql(`INSERT INTO meta (key, value) VALUES ('global_not_before', :at)
      ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))`),
    notBefore: sql("SELECT CAST(value AS INTEGER) AS value FROM meta WHERE key = 'global_not_before'"),
    // Both halves match an index (sessions_revoked_idx, sessions_ended_idx), so a sweep reads only what it deletes.
    sweep: sql(`DELETE FROM sessions WHERE id IN (
        SELECT id FROM sessions
        WHERE (revoked_at IS NOT NULL AND revoked_at < :before)
           OR (revoked_at IS NULL AND min(idle_expires_at, absolute_expires_at) < :before)
        LIMIT :limit)`),
    revokedSince: sql('SELECT * FROM sessions WHERE revoked_at >= ? ORDER BY revoked_at ASC, id ASC LIMIT ?'),

    keys: sql('SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC'),
    retireKeys: sql('UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL'),
    insertKey:
      sql(`INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_encrypted, created_at, retired_at)
      VALUES (?, ?, ?, ?, ?, ?)`),
    deleteKey: sql('DELETE FROM signing_keys WHERE kid = ?'),
    // Reads a page of the file, so a deleted or unreadable database fails here.
    ping: sql('SELECT count(*) FROM meta'),
  };
}

/**
 * Creates the embedded {@link Store} over a SQLite file with Node's built-in `node:sqlite`: WAL
 * journal, `synchronous=FULL` (an acknowledged write survives a killed process and a power loss),
 * a busy timeout so several processes can share the file, foreign keys on, and versioned
 * migrations applied under the write lock. Rotation is one conditional `UPDATE … RETURNING`, so
 * its compare-and-set holds across processes; rotations arriving in one event-loop turn share a
 * commit. Throws {@link StoreUnavailableError} when the file cannot be opened or stays locked past
 * `busyTimeoutMs` (default 5000 ms).
 * @example
 * const store = createSqliteStore({ path: './.tessera/tessera.db' });
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const inMemory = options.path === ':memory:';
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let db: DatabaseSync;
  let statements: ReturnType<typeof prepareStatements>;
  try {
    if (!inMemory) mkdirSync(dirname(options.path), { recursive: true });
    db = new DatabaseSync(options.path, { timeout: busyTimeoutMs });
  } catch (error) {
    throw toStoreError(error);
  }
  try {
    retryWhileBusy(busyTimeoutMs, () => {
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
      migrate(db);
    });
    statements = prepareStatements(db);
  } catch (error) {
    db.close();
    throw toStoreError(error);
  }
  const s = statements;
  let open = true;

  const run = <T>(work: () => T): Promise<T> => {
    if (!open) return Promise.reject(new StoreUnavailableError(new Error('The SQLite store is closed.')));
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(toStoreError(error));
    }
  };
  const atomically = <T>(work: () => T): Promise<T> => run(() => inTransaction(db, work));

  interface PendingRotation {
    id: string;
    fromGeneration: number;
    update: RotationUpdate;
    resolve: (row: SessionRecord | null) => void;
    reject: (error: unknown) => void;
  }
  let pending: PendingRotation[] = [];
  // Group commit: rotations arriving in one event-loop turn share one transaction, so one fsync
  // acknowledges them all; nobody is answered before that commit is durable. Each is still its own
  // compare-and-set, run in arrival order, so a second rotation of one session sees the first.
  const flushRotations = (): void => {
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    let rows: Array<SessionRecord | null>;
    try {
      rows = inTransaction(db, () =>
        batch.map(({ id, fromGeneration, update }) => {
          const row = s.rotate.get({
            id,
            from: fromGeneration,
            now: update.nowMs,
            idle: update.idleExpiresAtMs,
            ip: update.ip,
            userAgent: update.userAgent,
          });
          return row ? toSession(row) : null;
        }),
      );
    } catch (error) {
      const failure = toStoreError(error);
      for (const item of batch) item.reject(failure);
      return;
    }
    for (const [i, item] of batch.entries()) item.resolve(rows[i] ?? null);
  };

  const insertSession = (session: SessionRecord): void => {
    s.insertSession.run(
      session.id,
      session.userId,
      session.createdAtMs,
      session.authTimeMs,
      session.lastSeenAtMs,
      session.idleExpiresAtMs,
      session.absoluteExpiresAtMs,
      session.ip,
      session.userAgent,
      session.deviceName,
      JSON.stringify(session.amr),
      session.generation,
      session.rotatedAtMs,
      session.salt,
      session.revokedAtMs,
      session.revokeReason,
    );
  };
  const notYet = (name: string) => (): Promise<never> =>
    Promise.reject(new Error(`${name} is not implemented by the SQLite store yet.`));

  return {
    capabilities: { durable: !inMemory, multiProcess: !inMemory },
    listUsers: notYet('listUsers'),
    acceptTotpStep: notYet('acceptTotpStep'),
    setRecoveryCodes: notYet('setRecoveryCodes'),
    useRecoveryCode: notYet('useRecoveryCode'),
    countRecoveryCodes: notYet('countRecoveryCodes'),
    linkIdentity: notYet('linkIdentity'),
    unlinkIdentity: notYet('unlinkIdentity'),
    findUserByIdentity: notYet('findUserByIdentity'),
    listIdentities: notYet('listIdentities'),
    updateSessionAuth: notYet('updateSessionAuth'),
    createOneTimeToken: notYet('createOneTimeToken'),
    redeemOneTimeToken: notYet('redeemOneTimeToken'),
    appendOutbox: notYet('appendOutbox'),
    claimOutbox: notYet('claimOutbox'),
    finishOutboxAttempt: notYet('finishOutboxAttempt'),
    listOutbox: notYet('listOutbox'),
    replayOutbox: notYet('replayOutbox'),

    createUser: (user, options = {}) =>
      atomically(() => {
        if (options.identity || options.emit || options.deviceFingerprint) {
          throw new Error(
            'createUser: identities, devices and events are not implemented by the SQLite store yet.',
          );
        }
        const { changes } = s.insertUser.run(
          user.id,
          user.email,
          user.passwordHash,
          user.tokenVersion,
          JSON.stringify(user.roles),
          JSON.stringify(user.profile),
          user.disabled ? 1 : 0,
          user.reauthRequired ? 1 : 0,
          user.totpSecret,
          user.createdAtMs,
          user.updatedAtMs,
        );
        if (changes !== 1) return 'email_taken';
        if (options.session) insertSession(options.session);
        return 'created';
      }),
    findUserById: (id) =>
      run(() => {
        const row = s.userById.get(id);
        return row ? toUser(row) : null;
      }),
    findUserByEmail: (email) =>
      run(() => {
        const row = s.userByEmail.get(email);
        return row ? toUser(row) : null;
      }),
    updateUser: (id, patch) =>
      run(() => {
        const flag = (value: boolean | undefined) => (value === undefined ? null : value ? 1 : 0);
        const row = s.updateUser.get({
          id,
          passwordHash: patch.passwordHash ?? null,
          roles: patch.roles ? JSON.stringify(patch.roles) : null,
          profile: JSON.stringify(patch.profile ?? {}),
          disabled: flag(patch.disabled),
          reauthRequired: flag(patch.reauthRequired),
          setTotp: patch.totpSecret === undefined ? 0 : 1,
          totpSecret: patch.totpSecret ?? null,
          bump: patch.bumpTokenVersion ? 1 : 0,
          updatedAt: patch.updatedAtMs,
        });
        return row ? toUser(row) : null;
      }),

    createSession: (session, options = {}) =>
      atomically(() => {
        const maxPerUser = options.maxPerUser ?? 0;
        const evicted: SessionRecord[] = [];
        if (maxPerUser > 0) {
          const live = s.liveSessions.all({ user: session.userId, now: session.createdAtMs });
          for (const row of live.slice(0, Math.max(0, live.length - maxPerUser + 1))) {
            const revoked = s.revokeOne.get({
              id: row.id as string,
              at: session.createdAtMs,
              reason: 'evicted',
            });
            if (revoked) evicted.push(toSession(revoked));
          }
        }
        insertSession(session);
        return { evicted, newDevice: false };
      }),
    findSession: (id) =>
      run(() => {
        const row = s.sessionById.get(id);
        return row ? toSession(row) : null;
      }),
    rotateSession: (id, fromGeneration, update) =>
      new Promise<SessionRecord | null>((resolve, reject) => {
        if (!open) {
          reject(new StoreUnavailableError(new Error('The SQLite store is closed.')));
          return;
        }
        pending.push({ id, fromGeneration, update, resolve, reject });
        if (pending.length === 1) setImmediate(flushRotations);
      }),
    revokeSession: (id, atMs, reason) =>
      run(() => {
        const row = s.revokeOne.get({ id, at: atMs, reason });
        return row ? toSession(row) : null;
      }),
    revokeUserSessions: (userId, atMs, reason, options = {}) =>
      atomically(() =>
        s.revokeUser
          .all({ user: userId, except: options.exceptSessionId ?? null, at: atMs, reason })
          .map(toSession)
          .sort(byAgeThenId),
      ),
    listLiveSessions: (userId, nowMs) =>
      run(() => s.liveSessions.all({ user: userId, now: nowMs }).map(toSession)),
    changePassword: (userId, passwordHash, keepSessionId, atMs) =>
      atomically(() => {
        const row = s.updateUser.get({
          id: userId,
          passwordHash,
          roles: null,
          profile: '{}',
          disabled: null,
          reauthRequired: null,
          setTotp: 0,
          totpSecret: null,
          bump: 1,
          updatedAt: atMs,
        });
        if (!row) return null;
        const revoked = s.revokeUser.all({
          user: userId,
          except: keepSessionId,
          at: atMs,
          reason: 'password_changed',
        });
        return { user: toUser(row), revoked: revoked.map(toSession).sort(byAgeThenId) };
      }),
    emergencyRevokeAll: (atMs) =>
      atomically(() => {
        s.raiseNotBefore.run({ at: atMs });
        return Number(s.revokeAll.run(atMs).changes);
      }),
    getGlobalNotBeforeMs: () => run(() => int(s.notBefore.get()?.value)),
    sweepSessions: (beforeMs, limit) =>
      run(() => Number(s.sweep.run({ before: beforeMs, limit: Math.max(0, limit) }).changes)),
    listRevokedSince: (sinceMs, limit) =>
      run(() => s.revokedSince.all(sinceMs, Math.max(0, limit)).map(toSession)),
    listUsersUpdatedSince: (sinceMs, limit) =>
      run(() =>
        s.usersUpdatedSince.all(sinceMs, Math.max(0, limit)).map((row) => ({
          id: row.id as string,
          tokenVersion: row.token_version as number,
          updatedAtMs: row.updated_at as number,
        })),
      ),

    listSigningKeys: () => run(() => s.keys.all().map(toKey)),
    addSigningKey: (key) =>
      atomically(() => {
        s.retireKeys.run(key.createdAtMs);
        s.insertKey.run(
          key.kid,
          key.alg,
          key.publicJwk,
          key.privateJwkEncrypted,
          key.createdAtMs,
          key.retiredAtMs,
        );
      }),
    deleteSigningKey: (kid) =>
      run(() => {
        s.deleteKey.run(kid);
      }),

    ping: () =>
      run(() => {
        s.ping.get();
      }),
    async close() {
      if (!open) return;
      // Rotations already accepted are committed and answered, not dropped.
      flushRotations();
      open = false;
      db.close();
    },
  };
}
