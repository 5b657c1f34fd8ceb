import type { DatabaseSync } from 'node:sqlite';

/**
 * Schema versions of the SQLite store, applied in order; `PRAGMA user_version` counts the applied
 * ones. Append only: a released migration never changes, since databases already past it would
 * never see the edit. Internal: the store applies them when it opens a file.
 */
export const MIGRATIONS: readonly string[] = [
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
  // Users without an email or a password (external identities, passkeys): SQLite cannot drop a NOT
  // NULL, so the table is rebuilt (https://sqlite.org/lang_altertable.html#otheralter); migrate()
  // turns foreign keys off around it, or dropping the old table would cascade to every session.
  `CREATE TABLE users_v4 (
     id TEXT PRIMARY KEY,
     email TEXT UNIQUE,
     email_verified INTEGER NOT NULL DEFAULT 0,
     password_hash TEXT,
     token_version INTEGER NOT NULL,
     token_version_changed_at INTEGER,
     roles TEXT NOT NULL,
     profile TEXT NOT NULL,
     disabled INTEGER NOT NULL,
     reauth_required INTEGER NOT NULL,
     totp_secret TEXT,
     totp_pending_secret TEXT,
     totp_last_step INTEGER,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   ) STRICT;
   INSERT INTO users_v4 (id, email, password_hash, token_version, token_version_changed_at, roles, profile,
       disabled, reauth_required, totp_secret, created_at, updated_at)
     SELECT id, email, password_hash, token_version, token_version_changed_at, roles, profile,
       disabled, reauth_required, totp_secret, created_at, updated_at FROM users;
   DROP TABLE users;
   ALTER TABLE users_v4 RENAME TO users;
   CREATE INDEX users_updated_idx ON users (updated_at);
   CREATE INDEX users_version_changed_idx ON users (token_version_changed_at)
     WHERE token_version_changed_at IS NOT NULL;
   ALTER TABLE sessions ADD COLUMN acr TEXT;
   ALTER TABLE sessions ADD COLUMN dpop_jkt TEXT;
   CREATE TABLE identities (
     issuer TEXT NOT NULL,
     subject TEXT NOT NULL,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     created_at INTEGER NOT NULL,
     PRIMARY KEY (issuer, subject)
   ) STRICT;
   CREATE INDEX identities_user_idx ON identities (user_id, created_at);
   CREATE TABLE recovery_codes (
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     code_hash TEXT NOT NULL,
     used_at INTEGER,
     PRIMARY KEY (user_id, code_hash)
   ) STRICT;
   CREATE TABLE known_devices (
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     fingerprint TEXT NOT NULL,
     first_seen_at INTEGER NOT NULL,
     PRIMARY KEY (user_id, fingerprint)
   ) STRICT;
   CREATE TABLE one_time_tokens (
     token_hash TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
     email TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     used_at INTEGER,
     voided_at INTEGER
   ) STRICT;
   CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, kind)
     WHERE used_at IS NULL AND voided_at IS NULL;
   CREATE INDEX one_time_tokens_ended_idx
     ON one_time_tokens (min(coalesce(used_at, expires_at), coalesce(voided_at, expires_at)));
   CREATE TABLE outbox (
     id TEXT PRIMARY KEY,
     type TEXT NOT NULL,
     data TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL,
     delivered_at INTEGER,
     last_error TEXT,
     lease_owner TEXT,
     lease_until INTEGER NOT NULL DEFAULT 0
   ) STRICT;
   CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE state = 'pending';
   CREATE INDEX outbox_state_idx ON outbox (state, created_at, id);
   CREATE INDEX outbox_delivered_idx ON outbox (delivered_at) WHERE state = 'delivered';`,
];

/** The schema version this code writes; a file at a higher version came from newer code. */
export const SQLITE_SCHEMA_VERSION: number = MIGRATIONS.length;

/**
 * Brings the file to {@link SQLITE_SCHEMA_VERSION} under the write lock (`BEGIN IMMEDIATE`): of
 * several processes opening a new file at once, one migrates and the others find it done. Foreign
 * keys are off while it runs (a table rebuild must not cascade) and checked before the commit.
 * Throws when the file is at a newer version than this code knows.
 */
export function migrate(db: DatabaseSync): void {
  const version = (): number => db.prepare('PRAGMA user_version').get()?.user_version as number;
  if (version() === MIGRATIONS.length) return;
  // A no-op inside a transaction, so it is switched before BEGIN and back after COMMIT.
  db.exec('PRAGMA foreign_keys = OFF');
  try {
    db.exec('BEGIN IMMEDIATE');
    try {
      const current = version();
      if (current > MIGRATIONS.length) {
        throw new Error(
          `The database schema is at version ${current}, newer than this Tessera understands (${MIGRATIONS.length}); upgrade Tessera.`,
        );
      }
      for (const sql of MIGRATIONS.slice(current)) db.exec(sql);
      if (db.prepare('PRAGMA foreign_key_check').get()) {
        throw new Error('A migration left rows whose foreign keys point nowhere; nothing was changed.');
      }
      db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`);
      db.exec('COMMIT');
    } catch (error) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // SQLite rolled back by itself (`db.isTransaction` would say so, but Node has it from 22.16).
      }
      throw error;
    }
  } finally {
    db.exec('PRAGMA foreign_keys = ON');
  }
}
