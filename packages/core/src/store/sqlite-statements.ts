import type { DatabaseSync, StatementSync } from 'node:sqlite';

const LIVE = 'revoked_at IS NULL AND :now < idle_expires_at AND :now < absolute_expires_at';
// When a one-time token stopped being usable (used, voided or expired): one_time_tokens_ended_idx.
const TOKEN_ENDED = 'min(coalesce(used_at, expires_at), coalesce(voided_at, expires_at))';
const REVOKE = `UPDATE sessions SET revoked_at = :at, revoke_reason = :reason WHERE revoked_at IS NULL AND`;

/**
 * Every statement of the SQLite store. Writes that return rows are read with `.all()`, never
 * `.get()`: `.get()` stops at the first row, and outside a transaction the implicit commit then
 * happens in a reset whose error node:sqlite drops. (Every write also runs inside `BEGIN IMMEDIATE`
 * … `COMMIT`, whose error does propagate.)
 */
const SQL = {
  insertUser: `INSERT INTO users (id, email, email_verified, password_hash, token_version,
      token_version_changed_at, roles, profile, disabled, reauth_required, totp_secret, totp_pending_secret,
      totp_last_step, created_at, updated_at)
    VALUES (:id, :email, :emailVerified, :passwordHash, :tokenVersion, :tokenVersionChangedAt, :roles, :profile,
      :disabled, :reauthRequired, :totpSecret, :totpPendingSecret, :totpLastStep, :createdAt, :updatedAt)`,
  userConflict: 'SELECT 1 AS taken FROM users WHERE id = :id OR email = :email',
  userById: 'SELECT * FROM users WHERE id = ?',
  userByEmail: 'SELECT * FROM users WHERE email = ?',
  usersFirst: 'SELECT * FROM users ORDER BY id ASC LIMIT ?',
  usersAfter: 'SELECT * FROM users WHERE id > ? ORDER BY id ASC LIMIT ?',
  // json_patch is RFC 7396 merge: a null member deletes the field, exactly UserPatch.profile.
  updateUser: `UPDATE users SET
      email = iif(:setEmail, :email, email),
      email_verified = coalesce(:emailVerified, email_verified),
      password_hash = iif(:setPasswordHash, :passwordHash, password_hash),
      roles = coalesce(:roles, roles),
      profile = json_patch(profile, :profile),
      disabled = coalesce(:disabled, disabled),
      reauth_required = coalesce(:reauthRequired, reauth_required),
      totp_secret = iif(:setTotp, :totpSecret, totp_secret),
      totp_pending_secret = iif(:setTotpPending, :totpPendingSecret, totp_pending_secret),
      token_version = token_version + :bump,
      token_version_changed_at = iif(:bump, :updatedAt, token_version_changed_at),
      updated_at = :updatedAt
    WHERE id = :id RETURNING *`,
  acceptTotpStep: `UPDATE users SET totp_last_step = :step
    WHERE id = :id AND (totp_last_step IS NULL OR totp_last_step < :step)`,
  confirmTotp: `UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, updated_at = :at
    WHERE id = :id AND totp_pending_secret IS NOT NULL RETURNING *`,
  touchUser: 'UPDATE users SET updated_at = :at WHERE id = :id RETURNING *',
  usersUpdatedSince: `SELECT id, token_version, token_version_changed_at AS updated_at FROM users
    WHERE token_version_changed_at >= ? ORDER BY token_version_changed_at ASC, id ASC LIMIT ?`,

  deleteRecoveryCodes: 'DELETE FROM recovery_codes WHERE user_id = ?',
  insertRecoveryCode: 'INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?) ON CONFLICT DO NOTHING',
  useRecoveryCode: `UPDATE recovery_codes SET used_at = :at
    WHERE user_id = :user AND code_hash = :hash AND used_at IS NULL`,
  countRecoveryCodes: 'SELECT count(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL',

  identityOwner: 'SELECT user_id FROM identities WHERE issuer = ? AND subject = ?',
  insertIdentity: 'INSERT INTO identities (issuer, subject, user_id, created_at) VALUES (?, ?, ?, ?)',
  deleteIdentity: 'DELETE FROM identities WHERE issuer = ? AND subject = ? AND user_id = ?',
  userByIdentity: `SELECT users.* FROM identities JOIN users ON users.id = identities.user_id
    WHERE identities.issuer = ? AND identities.subject = ?`,
  identitiesOf: 'SELECT * FROM identities WHERE user_id = ? ORDER BY created_at ASC, issuer ASC, subject ASC',
  insertDevice: `INSERT INTO known_devices (user_id, fingerprint, first_seen_at) VALUES (?, ?, ?)
    ON CONFLICT DO NOTHING`,

  insertSession: `INSERT INTO sessions (id, user_id, created_at, auth_time, last_seen_at, idle_expires_at,
      absolute_expires_at, ip, user_agent, device_name, amr, acr, dpop_jkt, generation, rotated_at, salt,
      revoked_at, revoke_reason)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  sessionById: 'SELECT * FROM sessions WHERE id = ?',
  liveSessions: `SELECT * FROM sessions WHERE user_id = :user AND ${LIVE} ORDER BY created_at ASC, id ASC`,
  rotate: `UPDATE sessions SET generation = generation + 1, rotated_at = :now, last_seen_at = :now,
      idle_expires_at = :idle, ip = :ip, user_agent = :userAgent, dpop_jkt = coalesce(:jkt, dpop_jkt)
    WHERE id = :id AND generation = :from AND revoked_at IS NULL
      AND (:jkt IS NULL OR dpop_jkt IS NULL OR dpop_jkt = :jkt)
    RETURNING *`,
  // A refresh's compare-and-set guarded by every check the engine makes before rotating (the
  // contract of Store.rotateSessionInOneStep); the user is read after it in the same transaction.
  rotateInOneStep: `UPDATE sessions SET generation = generation + 1, rotated_at = :now, last_seen_at = :now,
      idle_expires_at = min(:now + :idleTtl, absolute_expires_at),
      ip = coalesce(:ip, ip), user_agent = coalesce(:userAgent, user_agent)
    WHERE id = :id AND generation = :from AND revoked_at IS NULL AND dpop_jkt IS NULL
      AND :now < idle_expires_at AND :now < absolute_expires_at
      AND (:maxLoginAge = 0 OR :now < auth_time + :maxLoginAge)
      AND EXISTS (SELECT 1 FROM users
        WHERE users.id = sessions.user_id AND users.disabled = 0 AND users.reauth_required = 0)
    RETURNING *`,
  updateSessionAuth: `UPDATE sessions SET auth_time = :authTime, amr = :amr, acr = :acr
    WHERE id = :id AND revoked_at IS NULL RETURNING *`,
  revokeOne: `${REVOKE} id = :id RETURNING *`,
  revokeUser: `${REVOKE} user_id = :user AND id IS NOT :except RETURNING *`,
  revokeAll: "UPDATE sessions SET revoked_at = ?, revoke_reason = 'emergency' WHERE revoked_at IS NULL",
  raiseNotBefore: `INSERT INTO meta (key, value) VALUES ('global_not_before', :at)
    ON CONFLICT (key) DO UPDATE SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))`,
  notBefore: "SELECT CAST(value AS INTEGER) AS value FROM meta WHERE key = 'global_not_before'",
  // Each sweep matches an index (sessions_revoked_idx, sessions_ended_idx, one_time_tokens_ended_idx,
  // outbox_delivered_idx), so it reads only what it deletes.
  sweepSessions: `DELETE FROM sessions WHERE id IN (
      SELECT id FROM sessions
      WHERE (revoked_at IS NOT NULL AND revoked_at < :before)
         OR (revoked_at IS NULL AND min(idle_expires_at, absolute_expires_at) < :before)
      LIMIT :limit)`,
  sweepTokens: `DELETE FROM one_time_tokens WHERE token_hash IN (
      SELECT token_hash FROM one_time_tokens WHERE ${TOKEN_ENDED} < :before LIMIT :limit)`,
  sweepOutbox: `DELETE FROM outbox WHERE id IN (
      SELECT id FROM outbox WHERE state = 'delivered' AND delivered_at < :before LIMIT :limit)`,
  revokedSince: 'SELECT * FROM sessions WHERE revoked_at >= ? ORDER BY revoked_at ASC, id ASC LIMIT ?',

  voidTokens: `UPDATE one_time_tokens SET voided_at = :at
    WHERE user_id = :user AND kind = :kind AND used_at IS NULL AND voided_at IS NULL`,
  insertToken: `INSERT INTO one_time_tokens (token_hash, kind, user_id, email, created_at, expires_at, used_at)
    VALUES (?, ?, ?, ?, ?, ?, ?)`,
  tokenByHash: 'SELECT * FROM one_time_tokens WHERE token_hash = ?',
  useToken: `UPDATE one_time_tokens SET used_at = :now
    WHERE token_hash = :hash AND used_at IS NULL AND voided_at IS NULL RETURNING *`,

  insertEvent: `INSERT INTO outbox (id, type, data, created_at, state, attempts, next_attempt_at)
    VALUES (?, ?, ?, ?, 'pending', 0, ?)`,
  claimEvents: `UPDATE outbox SET lease_owner = :owner, lease_until = :until
    WHERE id IN (SELECT id FROM outbox
      WHERE state = 'pending' AND next_attempt_at <= :now AND lease_until <= :now
      ORDER BY next_attempt_at ASC, id ASC LIMIT :limit)
    RETURNING *`,
  eventDelivered: `UPDATE outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = :at,
      last_error = NULL, lease_owner = NULL, lease_until = 0
    WHERE id = :id AND lease_owner = :owner AND state = 'pending'`,
  eventFailed: `UPDATE outbox SET attempts = attempts + 1, last_error = :error,
      state = iif(:next IS NULL, 'dead', 'pending'), next_attempt_at = coalesce(:next, next_attempt_at),
      lease_owner = NULL, lease_until = 0
    WHERE id = :id AND lease_owner = :owner AND state = 'pending'`,
  eventsIn: 'SELECT * FROM outbox WHERE state = ? ORDER BY created_at DESC, id DESC LIMIT ?',
  replayEvent: `UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = :now,
      delivered_at = NULL, lease_owner = NULL, lease_until = 0
    WHERE id = :id AND state <> 'pending'`,

  keys: 'SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC',
  retireKeys: 'UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL',
  insertKey: `INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_encrypted, created_at, retired_at)
    VALUES (?, ?, ?, ?, ?, ?)`,
  deleteKey: 'DELETE FROM signing_keys WHERE kid = ?',
  // Reads a page of the file, so a deleted or unreadable database fails here.
  ping: 'SELECT count(*) FROM meta',
  // A counter, so every heartbeat changes a page and its commit needs the disk.
  heartbeat: `INSERT INTO meta (key, value) VALUES ('heartbeat', '1')
    ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)`,
};

/** The prepared statements of one open SQLite store, by name. */
export type Statements = { readonly [Name in keyof typeof SQL]: StatementSync };

/** Prepares every statement of the store on `db` (once per open). */
export function prepareStatements(db: DatabaseSync): Statements {
  return Object.fromEntries(
    Object.entries(SQL).map(([name, source]) => [name, db.prepare(source)]),
  ) as Statements;
}
