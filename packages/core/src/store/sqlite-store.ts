import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
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

type Row = Record<string, SQLInputValue>;

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
];

function toUser(row: Row): UserRecord {
  return {
    id: row.id as string,
    email: row.email as string,
    passwordHash: row.password_hash as string,
    tokenVersion: row.token_version as number,
    roles: JSON.parse(row.roles as string) as string[],
    profile: JSON.parse(row.profile as string) as Record<string, string | null>,
    disabled: row.disabled === 1,
    reauthRequired: row.reauth_required === 1,
    totpSecret: (row.totp_secret as string | null) ?? null,
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
    ip: (row.ip as string | null) ?? null,
    userAgent: (row.user_agent as string | null) ?? null,
    deviceName: (row.device_name as string | null) ?? null,
    amr: JSON.parse(row.amr as string) as string[],
    generation: row.generation as number,
    rotatedAtMs: row.rotated_at as number,
    salt: row.salt as string,
    revokedAtMs: (row.revoked_at as number | null) ?? null,
    revokeReason: (row.revoke_reason as RevokeReason | null) ?? null,
  };
}

function toKey(row: Row): SigningKeyRecord {
  return {
    kid: row.kid as string,
    alg: row.alg as string,
    publicJwk: row.public_jwk as string,
    privateJwkEncrypted: row.private_jwk_encrypted as string,
    createdAtMs: row.created_at as number,
    retiredAtMs: (row.retired_at as number | null) ?? null,
  };
}

function isUnavailable(error: unknown): boolean {
  const code = (error as { errcode?: number }).errcode;
  // SQLITE_BUSY (5), SQLITE_LOCKED (6), SQLITE_IOERR (10), SQLITE_FULL (13), SQLITE_CANTOPEN (14).
  return code !== undefined && [5, 6, 10, 13, 14].includes(code & 0xff);
}

/**
 * Creates the embedded {@link Store} over a SQLite file with Node's built-in `node:sqlite`: WAL
 * journal, `synchronous=FULL` (an acknowledged write survives a killed process and a power loss),
 * a busy timeout so several processes can share the file, and versioned migrations applied under
 * an exclusive lock. Rotation is one conditional `UPDATE`, so it stays atomic across processes.
 * @example
 * const store = createSqliteStore({ path: './.tessera/tessera.db' });
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const db = new DatabaseSync(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');

  // BEGIN IMMEDIATE takes the write lock first, so two processes starting at once migrate once.
  db.exec('BEGIN IMMEDIATE');
  try {
    const version = (db.prepare('PRAGMA user_version').get() as { user_version: number }).user_version;
    MIGRATIONS.forEach((sql, index) => {
      if (index >= version) db.exec(sql);
    });
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`);
    db.exec('COMMIT');
  } catch (error) {
    db.exec('ROLLBACK');
    db.close();
    throw error;
  }

  const cache = new Map<string, StatementSync>();
  const stmt = (sql: string): StatementSync => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  };
  let open = true;

  const guard = <T>(work: () => T): Promise<T> => {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(isUnavailable(error) ? new StoreUnavailableError(error) : error);
    }
  };
  const transaction = <T>(work: () => T): Promise<T> =>
    guard(() => {
      db.exec('BEGIN IMMEDIATE');
      try {
        const result = work();
        db.exec('COMMIT');
        return result;
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
    });

  interface PendingRotation {
    id: string;
    fromGeneration: number;
    update: RotationUpdate;
    resolve: (row: SessionRecord | null) => void;
    reject: (error: unknown) => void;
  }
  let pendingRotations: PendingRotation[] = [];
  const rotateSql = `UPDATE sessions SET generation = generation + 1, rotated_at = ?, last_seen_at = ?,
       idle_expires_at = ?, ip = ?, user_agent = ?
     WHERE id = ? AND generation = ? AND revoked_at IS NULL RETURNING *`;
  const flushRotations = (): void => {
    const batch = pendingRotations;
    pendingRotations = [];
    if (!open) {
      for (const item of batch) item.reject(new StoreUnavailableError(new Error('The store is closed.')));
      return;
    }
    const results: Array<SessionRecord | null> = [];
    try {
      // Same session twice in one batch: the second sees the first's write, so compare-and-set holds.
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const { id, fromGeneration, update } of batch) {
          const row = stmt(rotateSql).get(
            update.nowMs,
            update.nowMs,
            update.idleExpiresAtMs,
            update.ip,
            update.userAgent,
            id,
            fromGeneration,
          ) as Row | undefined;
          results.push(row ? toSession(row) : null);
        }
        db.exec('COMMIT');
      } catch (error) {
        db.exec('ROLLBACK');
        throw error;
      }
    } catch (error) {
      const failure = isUnavailable(error) ? new StoreUnavailableError(error) : error;
      for (const item of batch) item.reject(failure);
      return;
    }
    batch.forEach((item, i) => {
      item.resolve(results[i] ?? null);
    });
  };

  const revokeWhere = (where: string) =>
    `UPDATE sessions SET revoked_at = :at, revoke_reason = :reason WHERE ${where} AND revoked_at IS NULL RETURNING *`;

  return {
    capabilities: { durable: options.path !== ':memory:', multiProcess: options.path !== ':memory:' },

    createUser: (user) =>
      guard(() => {
        const result = stmt(
          `INSERT INTO users (id, email, password_hash, token_version, roles, profile, disabled, reauth_required,
             totp_secret, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        ).run(
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
        return result.changes === 1 ? 'created' : 'email_taken';
      }),
    findUserById: (id) =>
      guard(() => {
        const row = stmt('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
        return row ? toUser(row) : null;
      }),
    findUserByEmail: (email) =>
      guard(() => {
        const row = stmt('SELECT * FROM users WHERE email = ?').get(email) as Row | undefined;
        return row ? toUser(row) : null;
      }),
    updateUser: (id, patch) =>
      transaction(() => {
        const row = stmt('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
        if (!row) return null;
        const user = toUser(row);
        const profile = { ...user.profile };
        for (const [name, value] of Object.entries(patch.profile ?? {})) {
          if (value === null) delete profile[name];
          else profile[name] = value;
        }
        const updated = stmt(
          `UPDATE users SET password_hash = ?, roles = ?, profile = ?, disabled = ?, reauth_required = ?,
             totp_secret = ?, token_version = token_version + ?, updated_at = ?
           WHERE id = ? RETURNING *`,
        ).get(
          patch.passwordHash ?? user.passwordHash,
          JSON.stringify(patch.roles ?? user.roles),
          JSON.stringify(profile),
          (patch.disabled ?? user.disabled) ? 1 : 0,
          (patch.reauthRequired ?? user.reauthRequired) ? 1 : 0,
          patch.totpSecret === undefined ? user.totpSecret : patch.totpSecret,
          patch.bumpTokenVersion ? 1 : 0,
          patch.updatedAtMs,
          id,
        ) as Row;
        return toUser(updated);
      }),

    createSession: (session, maxPerUser = 0) =>
      transaction(() => {
        let evicted: SessionRecord[] = [];
        if (maxPerUser > 0) {
          const live = stmt(
            `SELECT id FROM sessions
             WHERE user_id = ? AND revoked_at IS NULL AND ? < idle_expires_at AND ? < absolute_expires_at
             ORDER BY created_at ASC, id ASC`,
          ).all(session.userId, session.createdAtMs, session.createdAtMs) as Row[];
          const excess = live.length - maxPerUser + 1;
          evicted = live.slice(0, Math.max(0, excess)).map((r) => {
            const revoked = stmt(revokeWhere('id = :id')).get({
              id: r.id as string,
              at: session.createdAtMs,
              reason: 'evicted',
            }) as Row;
            return toSession(revoked);
          });
        }
        stmt(
          `INSERT INTO sessions (id, user_id, created_at, auth_time, last_seen_at, idle_expires_at, absolute_expires_at,
             ip, user_agent, device_name, amr, generation, rotated_at, salt, revoked_at, revoke_reason)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
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
        return evicted;
      }),
    findSession: (id) =>
      guard(() => {
        const row = stmt('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined;
        return row ? toSession(row) : null;
      }),
    rotateSession: (id, fromGeneration, update) =>
      new Promise<SessionRecord | null>((resolve, reject) => {
        pendingRotations.push({ id, fromGeneration, update, resolve, reject });
        // Group commit: rotations arriving in the same turn of the event loop share one transaction,
        // so one fsync acknowledges them all. Nobody is answered before the commit is durable.
        if (pendingRotations.length === 1) setImmediate(flushRotations);
      }),
    revokeSession: (id, atMs, reason) =>
      guard(() => {
        const row = stmt(revokeWhere('id = :id')).get({ id, at: atMs, reason }) as Row | undefined;
        return row ? toSession(row) : null;
      }),
    revokeUserSessions: (userId, atMs, reason, exceptSessionId) =>
      guard(() =>
        (
          stmt(revokeWhere('user_id = :user AND id IS NOT :except')).all({
            user: userId,
            except: exceptSessionId ?? null,
            at: atMs,
            reason,
          }) as Row[]
        ).map(toSession),
      ),
    listLiveSessions: (userId, nowMs) =>
      guard(() =>
        (
          stmt(
            `SELECT * FROM sessions
             WHERE user_id = ? AND revoked_at IS NULL AND ? < idle_expires_at AND ? < absolute_expires_at
             ORDER BY created_at ASC, id ASC`,
          ).all(userId, nowMs, nowMs) as Row[]
        ).map(toSession),
      ),
    changePassword: (userId, passwordHash, keepSessionId, atMs) =>
      transaction(() => {
        const updated = stmt(
          'UPDATE users SET password_hash = ?, token_version = token_version + 1, updated_at = ? WHERE id = ? RETURNING *',
        ).get(passwordHash, atMs, userId) as Row | undefined;
        if (!updated) return null;
        const revoked = stmt(revokeWhere('user_id = :user AND id IS NOT :except')).all({
          user: userId,
          except: keepSessionId,
          at: atMs,
          reason: 'password_changed',
        }) as Row[];
        return { user: toUser(updated), revoked: revoked.map(toSession) };
      }),
    emergencyRevokeAll: (atMs) =>
      transaction(() => {
        stmt(
          `INSERT INTO meta (key, value) VALUES ('global_not_before', ?)
           ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))`,
        ).run(String(atMs));
        return Number(
          stmt(
            "UPDATE sessions SET revoked_at = ?, revoke_reason = 'emergency' WHERE revoked_at IS NULL",
          ).run(atMs).changes,
        );
      }),
    getGlobalNotBeforeMs: () =>
      guard(() => {
        const row = stmt("SELECT value FROM meta WHERE key = 'global_not_before'").get() as Row | undefined;
        return row ? Number(row.value) : null;
      }),
    sweepSessions: (beforeMs, limit) =>
      guard(() =>
        Number(
          stmt(
            `DELETE FROM sessions WHERE id IN (
               SELECT id FROM sessions
               WHERE (revoked_at IS NOT NULL AND revoked_at < ?)
                  OR (revoked_at IS NULL AND min(idle_expires_at, absolute_expires_at) < ?)
               LIMIT ?)`,
          ).run(beforeMs, beforeMs, limit).changes,
        ),
      ),
    listRevokedSince: (sinceMs, limit) =>
      guard(() =>
        (
          stmt('SELECT * FROM sessions WHERE revoked_at >= ? ORDER BY revoked_at ASC, id ASC LIMIT ?').all(
            sinceMs,
            limit,
          ) as Row[]
        ).map(toSession),
      ),

    listUsersUpdatedSince: (sinceMs, limit) =>
      guard(() =>
        (
          stmt(
            'SELECT id, token_version, updated_at FROM users WHERE updated_at >= ? ORDER BY updated_at ASC, id ASC LIMIT ?',
          ).all(sinceMs, limit) as Row[]
        ).map((row) => ({
          id: row.id as string,
          tokenVersion: row.token_version as number,
          updatedAtMs: row.updated_at as number,
        })),
      ),

    listSigningKeys: () =>
      guard(() =>
        (stmt('SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC').all() as Row[]).map(toKey),
      ),
    addSigningKey: (key) =>
      transaction(() => {
        stmt('UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL').run(key.createdAtMs);
        stmt(
          `INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_encrypted, created_at, retired_at)
           VALUES (?, ?, ?, ?, ?, ?)`,
        ).run(key.kid, key.alg, key.publicJwk, key.privateJwkEncrypted, key.createdAtMs, key.retiredAtMs);
      }),
    deleteSigningKey: (kid) =>
      guard(() => {
        stmt('DELETE FROM signing_keys WHERE kid = ?').run(kid);
      }),

    ping: () =>
      guard(() => {
        stmt('SELECT 1').get();
      }),
    async close() {
      if (!open) return;
      open = false;
      cache.clear();
      db.close();
    },
  };
}
