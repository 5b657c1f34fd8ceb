import {
  type RevokeReason,
  type SessionRecord,
  type SigningKeyRecord,
  type Store,
  StoreUnavailableError,
  type UserRecord,
} from '@tessera/core';
import pg from 'pg';
import { MIGRATIONS } from './migrations.ts';

/** Options of {@link createPostgresStore}. */
export interface PostgresStoreOptions {
  /** A `postgres://` connection string. */
  connectionString: string;
  /** Schema holding Tessera's tables (created if missing). Default `tessera`. */
  schema?: string;
  /** Pool size. Default 10. */
  maxConnections?: number;
  /** Apply pending migrations when opening. Default true. */
  migrate?: boolean;
}

type Row = Record<string, unknown>;
type Queryable = Pick<pg.PoolClient, 'query'>;

// int8 columns hold epoch milliseconds: well inside 2^53, so read them as numbers.
const TYPES = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01',
  '57P02',
  '57P03',
]);

function isUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  if (e.code && (UNAVAILABLE_CODES.has(e.code) || e.code.startsWith('08'))) return true;
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
    e.message ?? '',
  );
}

function toUser(row: Row): UserRecord {
  return {
    id: row.id as string,
    email: (row.email as string | null) ?? null,
    // Filled by the schema for identities, verification and TOTP replay (stores helper, round 1).
    emailVerified: row.email_verified === true,
    passwordHash: (row.password_hash as string | null) ?? null,
    tokenVersion: row.token_version as number,
    tokenVersionChangedAtMs: (row.token_version_changed_at as number | null | undefined) ?? null,
    roles: row.roles as string[],
    profile: row.profile as Record<string, string | null>,
    disabled: row.disabled as boolean,
    reauthRequired: row.reauth_required as boolean,
    totpSecret: (row.totp_secret as string | null) ?? null,
    totpPendingSecret: (row.totp_pending_secret as string | null | undefined) ?? null,
    totpLastStep: (row.totp_last_step as number | null | undefined) ?? null,
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
    amr: row.amr as string[],
    acr: (row.acr as string | null | undefined) ?? null,
    dpopJkt: (row.dpop_jkt as string | null | undefined) ?? null,
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

/**
 * Applies pending migrations under a transaction-scoped advisory lock, so several instances starting
 * at once migrate exactly once. Returns the schema version.
 */
export async function migratePostgres(client: Queryable, schema: string): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`tessera-migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${schema}.tessera_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query(
      `SELECT coalesce(max(version), 0) AS v FROM ${schema}.tessera_migrations`,
    );
    let version = Number(rows[0]?.v ?? 0);
    for (const migration of MIGRATIONS) {
      if (migration.version <= version) continue;
      await client.query(migration.sql(schema));
      await client.query(`INSERT INTO ${schema}.tessera_migrations (version) VALUES ($1)`, [
        migration.version,
      ]);
      version = migration.version;
    }
    await client.query('COMMIT');
    return version;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Creates a {@link Store} over PostgreSQL with a connection pool. Rotation is one conditional
 * `UPDATE … WHERE generation = $n`, so concurrent refreshes at different instances rotate once.
 * Database outages surface as {@link StoreUnavailableError} (HTTP 503); the pool reconnects by itself.
 * @example
 * const store = await createPostgresStore({ connectionString: 'postgres://127.0.0.1/tessera' });
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const schema = options.schema ?? 'tessera';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`Invalid PostgreSQL schema name "${schema}".`);
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
    types: TYPES,
  });
  // An idle client losing its connection (a database restart) must not crash the process.
  pool.on('error', () => undefined);
  const s = schema;

  const run = async <T>(work: (db: Queryable) => Promise<T>): Promise<T> => {
    try {
      return await work(pool);
    } catch (error) {
      if (isUnavailable(error)) throw new StoreUnavailableError(error);
      throw error;
    }
  };
  const transaction = async <T>(work: (db: Queryable) => Promise<T>): Promise<T> =>
    run(async () => {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    });

  if (options.migrate ?? true) {
    const client = await pool.connect().catch((error: unknown) => {
      throw new StoreUnavailableError(error);
    });
    try {
      await migratePostgres(client, schema);
    } finally {
      client.release();
    }
  }

  const insertSession = async (db: Queryable, session: SessionRecord): Promise<void> => {
    await db.query(
      `INSERT INTO ${s}.sessions (id, user_id, created_at, auth_time, last_seen_at, idle_expires_at, absolute_expires_at,
         ip, user_agent, device_name, amr, generation, rotated_at, salt, revoked_at, revoke_reason)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`,
      [
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
      ],
    );
  };
  const notYet = (name: string) => (): Promise<never> =>
    Promise.reject(new Error(`${name} is not implemented by the PostgreSQL store yet.`));

  return {
    capabilities: { durable: true, multiProcess: true },
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
      transaction(async (db) => {
        if (options.identity || options.emit || options.deviceFingerprint) {
          throw new Error(
            'createUser: identities, devices and events are not implemented by the PostgreSQL store yet.',
          );
        }
        const { rowCount } = await db.query(
          `INSERT INTO ${s}.users (id, email, password_hash, token_version, roles, profile, disabled, reauth_required, totp_secret, created_at, updated_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT DO NOTHING`,
          [
            user.id,
            user.email,
            user.passwordHash,
            user.tokenVersion,
            JSON.stringify(user.roles),
            JSON.stringify(user.profile),
            user.disabled,
            user.reauthRequired,
            user.totpSecret,
            user.createdAtMs,
            user.updatedAtMs,
          ],
        );
        if (rowCount !== 1) return 'email_taken';
        if (options.session) await insertSession(db, options.session);
        return 'created';
      }),
    findUserById: (id) =>
      run(async (db) => {
        const { rows } = await db.query(`SELECT * FROM ${s}.users WHERE id = $1`, [id]);
        return rows[0] ? toUser(rows[0]) : null;
      }),
    findUserByEmail: (email) =>
      run(async (db) => {
        const { rows } = await db.query(`SELECT * FROM ${s}.users WHERE email = $1`, [email]);
        return rows[0] ? toUser(rows[0]) : null;
      }),
    updateUser: (id, patch) =>
      run(async (db) => {
        const { rows } = await db.query(
          `UPDATE ${s}.users SET
             password_hash = coalesce($2, password_hash),
             roles = coalesce($3::jsonb, roles),
             profile = CASE WHEN $4::jsonb IS NULL THEN profile
                            ELSE jsonb_strip_nulls(profile || $4::jsonb) END,
             disabled = coalesce($5, disabled),
             reauth_required = coalesce($6, reauth_required),
             totp_secret = CASE WHEN $7 THEN $8 ELSE totp_secret END,
             token_version = token_version + CASE WHEN $9 THEN 1 ELSE 0 END,
             token_version_changed_at = CASE WHEN $9 THEN $10 ELSE token_version_changed_at END,
             updated_at = $10
           WHERE id = $1 RETURNING *`,
          [
            id,
            patch.passwordHash ?? null,
            patch.roles === undefined ? null : JSON.stringify(patch.roles),
            patch.profile === undefined ? null : JSON.stringify(patch.profile),
            patch.disabled ?? null,
            patch.reauthRequired ?? null,
            patch.totpSecret !== undefined,
            patch.totpSecret ?? null,
            patch.bumpTokenVersion === true,
            patch.updatedAtMs,
          ],
        );
        return rows[0] ? toUser(rows[0]) : null;
      }),

    createSession: (session, options = {}) =>
      transaction(async (db) => {
        const maxPerUser = options.maxPerUser ?? 0;
        let evicted: SessionRecord[] = [];
        if (maxPerUser > 0) {
          // Serialize logins of one user so two concurrent ones cannot both skip eviction.
          await db.query(`SELECT 1 FROM ${s}.users WHERE id = $1 FOR UPDATE`, [session.userId]);
          const live = await db.query(
            `SELECT id FROM ${s}.sessions
             WHERE user_id = $1 AND revoked_at IS NULL AND $2 < idle_expires_at AND $2 < absolute_expires_at
             ORDER BY created_at ASC, id ASC`,
            [session.userId, session.createdAtMs],
          );
          const excess = live.rows.length - maxPerUser + 1;
          if (excess > 0) {
            const ids = live.rows.slice(0, excess).map((r) => r.id as string);
            const revoked = await db.query(
              `UPDATE ${s}.sessions SET revoked_at = $2, revoke_reason = 'evicted'
               WHERE id = ANY($1) AND revoked_at IS NULL RETURNING *`,
              [ids, session.createdAtMs],
            );
            evicted = revoked.rows.map(toSession);
          }
        }
        await insertSession(db, session);
        return { evicted, newDevice: false };
      }),
    findSession: (id) =>
      run(async (db) => {
        const { rows } = await db.query(`SELECT * FROM ${s}.sessions WHERE id = $1`, [id]);
        return rows[0] ? toSession(rows[0]) : null;
      }),
    rotateSession: (id, fromGeneration, update) =>
      run(async (db) => {
        const { rows } = await db.query(
          `UPDATE ${s}.sessions SET generation = generation + 1, rotated_at = $3, last_seen_at = $3,
             idle_expires_at = $4, ip = $5, user_agent = $6
           WHERE id = $1 AND generation = $2 AND revoked_at IS NULL RETURNING *`,
          [id, fromGeneration, update.nowMs, update.idleExpiresAtMs, update.ip, update.userAgent],
        );
        return rows[0] ? toSession(rows[0]) : null;
      }),
    revokeSession: (id, atMs, reason) =>
      run(async (db) => {
        const { rows } = await db.query(
          `UPDATE ${s}.sessions SET revoked_at = $2, revoke_reason = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING *`,
          [id, atMs, reason],
        );
        return rows[0] ? toSession(rows[0]) : null;
      }),
    revokeUserSessions: (userId, atMs, reason, options = {}) =>
      run(async (db) => {
        const { rows } = await db.query(
          `UPDATE ${s}.sessions SET revoked_at = $2, revoke_reason = $3
           WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $4 RETURNING *`,
          [userId, atMs, reason, options.exceptSessionId ?? null],
        );
        return rows.map(toSession);
      }),
    listLiveSessions: (userId, nowMs) =>
      run(async (db) => {
        const { rows } = await db.query(
          `SELECT * FROM ${s}.sessions
           WHERE user_id = $1 AND revoked_at IS NULL AND $2 < idle_expires_at AND $2 < absolute_expires_at
           ORDER BY created_at ASC, id ASC`,
          [userId, nowMs],
        );
        return rows.map(toSession);
      }),
    changePassword: (userId, passwordHash, keepSessionId, atMs) =>
      transaction(async (db) => {
        const updated = await db.query(
          `UPDATE ${s}.users SET password_hash = $2, token_version = token_version + 1,
             token_version_changed_at = $3, updated_at = $3
           WHERE id = $1 RETURNING *`,
          [userId, passwordHash, atMs],
        );
        if (!updated.rows[0]) return null;
        const revoked = await db.query(
          `UPDATE ${s}.sessions SET revoked_at = $2, revoke_reason = 'password_changed'
           WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $3 RETURNING *`,
          [userId, atMs, keepSessionId],
        );
        return { user: toUser(updated.rows[0]), revoked: revoked.rows.map(toSession) };
      }),
    emergencyRevokeAll: (atMs) =>
      transaction(async (db) => {
        await db.query(
          `INSERT INTO ${s}.meta (key, value) VALUES ('global_not_before', $1)
           ON CONFLICT (key) DO UPDATE SET value = GREATEST(${s}.meta.value::bigint, EXCLUDED.value::bigint)::text`,
          [String(atMs)],
        );
        const { rowCount } = await db.query(
          `UPDATE ${s}.sessions SET revoked_at = $1, revoke_reason = 'emergency' WHERE revoked_at IS NULL`,
          [atMs],
        );
        return rowCount ?? 0;
      }),
    getGlobalNotBeforeMs: () =>
      run(async (db) => {
        const { rows } = await db.query(`SELECT value FROM ${s}.meta WHERE key = 'global_not_before'`);
        return rows[0] ? Number(rows[0].value) : null;
      }),
    sweepSessions: (beforeMs, limit) =>
      run(async (db) => {
        const { rowCount } = await db.query(
          `DELETE FROM ${s}.sessions WHERE id IN (
             SELECT id FROM ${s}.sessions
             WHERE (revoked_at IS NOT NULL AND revoked_at < $1)
                OR (revoked_at IS NULL AND LEAST(idle_expires_at, absolute_expires_at) < $1)
             LIMIT $2)`,
          [beforeMs, limit],
        );
        return rowCount ?? 0;
      }),
    listRevokedSince: (sinceMs, limit) =>
      run(async (db) => {
        const { rows } = await db.query(
          `SELECT * FROM ${s}.sessions WHERE revoked_at >= $1 ORDER BY revoked_at ASC, id ASC LIMIT $2`,
          [sinceMs, limit],
        );
        return rows.map(toSession);
      }),

    listUsersUpdatedSince: (sinceMs, limit) =>
      run(async (db) => {
        const { rows } = await db.query(
          `SELECT id, token_version, token_version_changed_at AS updated_at FROM ${s}.users
           WHERE token_version_changed_at >= $1
           ORDER BY token_version_changed_at ASC, id ASC LIMIT $2`,
          [sinceMs, limit],
        );
        return rows.map((row) => ({
          id: row.id as string,
          tokenVersion: row.token_version as number,
          updatedAtMs: row.updated_at as number,
        }));
      }),

    listSigningKeys: () =>
      run(async (db) => {
        const { rows } = await db.query(`SELECT * FROM ${s}.signing_keys ORDER BY created_at DESC, kid DESC`);
        return rows.map(toKey);
      }),
    addSigningKey: (key) =>
      transaction(async (db) => {
        await db.query(`UPDATE ${s}.signing_keys SET retired_at = $1 WHERE retired_at IS NULL`, [
          key.createdAtMs,
        ]);
        await db.query(
          `INSERT INTO ${s}.signing_keys (kid, alg, public_jwk, private_jwk_encrypted, created_at, retired_at)
           VALUES ($1,$2,$3,$4,$5,$6)`,
          [key.kid, key.alg, key.publicJwk, key.privateJwkEncrypted, key.createdAtMs, key.retiredAtMs],
        );
      }),
    deleteSigningKey: (kid) =>
      run(async (db) => {
        await db.query(`DELETE FROM ${s}.signing_keys WHERE kid = $1`, [kid]);
      }),

    ping: () =>
      run(async (db) => {
        await db.query('SELECT 1');
      }),
    async close() {
      await pool.end().catch(() => undefined);
    },
  };
}
