import {
  type OutboxEventInput,
  type RevokeReason,
  type SessionRecord,
  StoreUnavailableError,
  type UserPatch,
  type UserRecord,
} from '@tessera/core';
import type pg from 'pg';
import { boundedQuery, connectBefore, type Deadline, deadlineIn, type Queryable } from './call-deadline.ts';
import { toStoreError } from './postgres-errors.ts';
import { byId, toSession, toUser } from './postgres-rows.ts';
import { lockedInIdOrder, type RefreshStatements, refreshStatements } from './postgres-statements.ts';

export type { Queryable } from './call-deadline.ts';

/** Thrown inside {@link PostgresContext.transaction} to roll back and answer `value` instead. */
export class Rollback<T> {
  readonly value: T;
  constructor(value: T) {
    this.value = value;
  }
}

/** What the PostgreSQL store's method groups share. */
export interface PostgresContext {
  /** The schema name (validated), to qualify tables. */
  readonly s: string;
  /** The refresh path's prepared statements. */
  readonly statements: RefreshStatements;
  /**
   * Runs one query or a few independent ones on the pool. A single statement commits on its own,
   * and PostgreSQL reports a failed commit as the statement's error, so nothing is acknowledged
   * that was not written. Every wait (a connection, a statement) ends by `deadline`, by default the
   * query timeout from now; past it the call rejects as unavailable.
   */
  run<T>(work: (db: Queryable) => Promise<T>, deadline?: Deadline): Promise<T>;
  /**
   * Runs `work` in `BEGIN` … `COMMIT` on one connection, the whole of it by `deadline` (as
   * {@link PostgresContext.run}); a thrown {@link Rollback} rolls back and answers its value.
   */
  transaction<T>(work: (db: Queryable) => Promise<T>, deadline?: Deadline): Promise<T>;
  /** Inserts a session (in a transaction), first evicting the user's oldest live ones over `maxPerUser`. */
  insertSession(
    db: Queryable,
    session: SessionRecord,
    options: { maxPerUser?: number; deviceFingerprint?: string | undefined },
  ): Promise<{ evicted: SessionRecord[]; newDevice: boolean }>;
  /**
   * Applies a patch; `null` if there is no such user. An email another user has fails with a unique
   * violation ({@link isEmailTaken}): the caller's transaction then rolls back whole.
   */
  patchUser(db: Queryable, id: string, patch: UserPatch): Promise<UserRecord | null>;
  /** Revokes every unrevoked session of the user but one, oldest first. */
  revokeUserSessions(
    db: Queryable,
    userId: string,
    atMs: number,
    reason: RevokeReason,
    except: string | null,
  ): Promise<SessionRecord[]>;
  /** Appends outbox events (in the caller's transaction). */
  appendEvents(db: Queryable, events: readonly OutboxEventInput[]): Promise<void>;
}

const byAge = (a: SessionRecord, b: SessionRecord): number => a.createdAtMs - b.createdAtMs || byId(a, b);

/** True when `error` leaves a connection in an unknown state: it is dropped, never reused. */
const leavesConnectionBroken = (error: unknown): boolean =>
  toStoreError(error) instanceof StoreUnavailableError;

/** A connection's queries, each bounded by `deadline`. */
function boundedClient(client: pg.PoolClient, deadline: Deadline): Queryable {
  return { query: async (text, values) => client.query(boundedQuery(text, values, deadline)) };
}

/**
 * Builds the {@link PostgresContext} over `pool` for tables in `schema`; a call's deadline defaults
 * to `queryTimeoutMs` from when it began.
 */
export function createPostgresContext(
  pool: pg.Pool,
  schema: string,
  queryTimeoutMs: number,
): PostgresContext {
  const s = schema;
  const run = async <T>(work: (db: Queryable) => Promise<T>, deadline?: Deadline): Promise<T> => {
    const until = deadline ?? deadlineIn(queryTimeoutMs);
    // Each query on its own pooled connection, as `pool.query` does, but bounded by the deadline.
    const onPool: Queryable = {
      async query(text, values) {
        const client = await connectBefore(pool, until);
        let broken: Error | undefined;
        try {
          return await client.query(boundedQuery(text, values, until));
        } catch (error) {
          if (leavesConnectionBroken(error)) broken = error as Error;
          throw error;
        } finally {
          client.release(broken);
        }
      },
    };
    try {
      return await work(onPool);
    } catch (error) {
      throw toStoreError(error);
    }
  };
  return {
    s,
    statements: refreshStatements(schema),
    run,
    transaction: (work, deadline = deadlineIn(queryTimeoutMs)) =>
      run(async () => {
        const client = await connectBefore(pool, deadline);
        const db = boundedClient(client, deadline);
        // A connection that timed out or broke, or did not roll back, is dropped, never handed on.
        let broken: Error | undefined;
        const rollBack = async () => {
          try {
            await db.query('ROLLBACK');
          } catch (error) {
            broken = error as Error;
          }
        };
        try {
          await db.query('BEGIN');
          const result = await work(db);
          // A failed COMMIT (disk full, lost connection) rejects here: the write is not reported done.
          await db.query('COMMIT');
          return result;
        } catch (error) {
          if (error instanceof Rollback) {
            await rollBack();
            return error.value;
          }
          if (leavesConnectionBroken(error)) broken = error as Error;
          else await rollBack();
          throw error;
        } finally {
          client.release(broken);
        }
      }, deadline),
    async insertSession(db, session, options) {
      const maxPerUser = options.maxPerUser ?? 0;
      let evicted: SessionRecord[] = [];
      if (maxPerUser > 0) {
        // Serialize logins of one user so two concurrent ones cannot both skip eviction.
        await db.query(`SELECT 1 FROM ${s}.users WHERE id = $1 FOR UPDATE`, [session.userId]);
        const live = await db.query(
          `SELECT id FROM ${s}.sessions
           WHERE user_id = $1 AND revoked_at IS NULL AND $2 < idle_expires_at AND $2 < absolute_expires_at
           ORDER BY created_at ASC, id COLLATE "C" ASC`,
          [session.userId, session.createdAtMs],
        );
        const excess = live.rows.length - maxPerUser + 1;
        if (excess > 0) {
          // Locked in id order, as a batch of rotations locks: the two never deadlock.
          const { rows } = await db.query(
            `WITH ${lockedInIdOrder(
              `${s}.sessions t`,
              't.id = ANY($1) AND t.revoked_at IS NULL',
              'FOR NO KEY UPDATE',
            )}
             UPDATE ${s}.sessions AS t SET revoked_at = $2, revoke_reason = 'evicted'
             FROM locked l WHERE t.id = l.id RETURNING t.*`,
            [live.rows.slice(0, excess).map((r) => r.id as string), session.createdAtMs],
          );
          evicted = rows.map(toSession).sort(byAge);
        }
      }
      await db.query(
        `INSERT INTO ${s}.sessions (id, user_id, created_at, auth_time, last_seen_at, idle_expires_at,
           absolute_expires_at, ip, user_agent, device_name, amr, acr, dpop_jkt, generation, rotated_at, salt,
           revoked_at, revoke_reason)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)`,
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
          session.acr,
          session.dpopJkt,
          session.generation,
          session.rotatedAtMs,
          session.salt,
          session.revokedAtMs,
          session.revokeReason,
        ],
      );
      let newDevice = false;
      if (options.deviceFingerprint !== undefined) {
        // A concurrent insert of the same pair waits for the first to commit, then does nothing.
        const { rowCount } = await db.query(
          `INSERT INTO ${s}.known_devices (user_id, fingerprint, first_seen_at) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING`,
          [session.userId, options.deviceFingerprint, session.createdAtMs],
        );
        newDevice = rowCount === 1;
      }
      return { evicted, newDevice };
    },
    async patchUser(db, id, patch) {
      const { rows } = await db.query(
        `UPDATE ${s}.users SET
           email = CASE WHEN $2 THEN $3 ELSE email END,
           email_verified = coalesce($4, email_verified),
           password_hash = CASE WHEN $5 THEN $6 ELSE password_hash END,
           roles = coalesce($7::jsonb, roles),
           profile = CASE WHEN $8::jsonb IS NULL THEN profile ELSE jsonb_strip_nulls(profile || $8::jsonb) END,
           disabled = coalesce($9, disabled),
           reauth_required = coalesce($10, reauth_required),
           totp_secret = CASE WHEN $11 THEN $12 ELSE totp_secret END,
           totp_pending_secret = CASE WHEN $13 THEN $14 ELSE totp_pending_secret END,
           token_version = token_version + CASE WHEN $15 THEN 1 ELSE 0 END,
           token_version_changed_at = CASE WHEN $15 THEN $16 ELSE token_version_changed_at END,
           updated_at = $16
         WHERE id = $1 RETURNING *`,
        [
          id,
          patch.email !== undefined,
          patch.email ?? null,
          patch.emailVerified ?? null,
          patch.passwordHash !== undefined,
          patch.passwordHash ?? null,
          patch.roles === undefined ? null : JSON.stringify(patch.roles),
          patch.profile === undefined ? null : JSON.stringify(patch.profile),
          patch.disabled ?? null,
          patch.reauthRequired ?? null,
          patch.totpSecret !== undefined,
          patch.totpSecret ?? null,
          patch.totpPendingSecret !== undefined,
          patch.totpPendingSecret ?? null,
          patch.bumpTokenVersion === true,
          patch.updatedAtMs,
        ],
      );
      return rows[0] ? toUser(rows[0]) : null;
    },
    async revokeUserSessions(db, userId, atMs, reason, except) {
      // Locked in id order, as a batch of rotations locks: the two never deadlock.
      const { rows } = await db.query(
        `WITH ${lockedInIdOrder(
          `${s}.sessions t`,
          't.user_id = $1 AND t.revoked_at IS NULL AND t.id IS DISTINCT FROM $4',
          'FOR NO KEY UPDATE',
        )}
         UPDATE ${s}.sessions AS t SET revoked_at = $2, revoke_reason = $3
         FROM locked l WHERE t.id = l.id RETURNING t.*`,
        [userId, atMs, reason, except],
      );
      return rows.map(toSession).sort(byAge);
    },
    async appendEvents(db, events) {
      if (events.length === 0) return;
      await db.query(
        `INSERT INTO ${s}.outbox (id, type, data, created_at, state, attempts, next_attempt_at)
         SELECT id, type, data, created_at, 'pending', 0, created_at
         FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS e(id, type, data, created_at)`,
        [
          events.map((e) => e.id),
          events.map((e) => e.type),
          events.map((e) => JSON.stringify(e.data)),
          events.map((e) => e.createdAtMs),
        ],
      );
    },
  };
}
