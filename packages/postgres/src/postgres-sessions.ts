import type { Store } from '@tessera/core';
import type { PostgresContext } from './postgres-context.ts';
import { toKey, toSession, toUser } from './postgres-rows.ts';
import { lockedInIdOrder } from './postgres-statements.ts';

type SessionMethods = Pick<
  Store,
  | 'createSession'
  | 'findSession'
  | 'findSessionWithUser'
  | 'rotateSession'
  | 'updateSessionAuth'
  | 'revokeSession'
  | 'revokeUserSessions'
  | 'listLiveSessions'
  | 'changePassword'
  | 'emergencyRevokeAll'
  | 'getGlobalNotBeforeMs'
  | 'sweepSessions'
  | 'listRevokedSince'
  | 'listSigningKeys'
  | 'addSigningKey'
  | 'deleteSigningKey'
>;

// A session `t` the sweeper deletes: revoked, or expired, before `$1`.
const ENDED = `((t.revoked_at IS NOT NULL AND t.revoked_at < $1)
               OR (t.revoked_at IS NULL AND LEAST(t.idle_expires_at, t.absolute_expires_at) < $1))`;

/** The PostgreSQL store's sessions, global operations and signing keys. */
export function postgresSessionMethods(ctx: PostgresContext): SessionMethods {
  const { s, run, transaction, statements } = ctx;
  return {
    createSession: (session, options = {}) =>
      transaction(async (db) => {
        const result = await ctx.insertSession(db, session, options);
        await ctx.appendEvents(db, options.emit?.(result) ?? []);
        return result;
      }),
    findSession: (id) =>
      run(async (db) => {
        const { rows } = await db.query({ ...statements.findSession, values: [id] });
        return rows[0] ? toSession(rows[0].session) : null;
      }),
    findSessionWithUser: (id) =>
      run(async (db) => {
        const { rows } = await db.query({ ...statements.findSessionWithUser, values: [id] });
        const row = rows[0];
        return row ? { session: toSession(row.session), user: row.user ? toUser(row.user) : null } : null;
      }),
    rotateSession: (id, fromGeneration, update) =>
      run(async (db) => {
        const { rows } = await db.query({
          ...statements.rotateSession,
          values: [
            id,
            fromGeneration,
            update.nowMs,
            update.idleExpiresAtMs,
            update.ip,
            update.userAgent,
            update.dpopJkt ?? null,
          ],
        });
        return rows[0] ? toSession(rows[0].session) : null;
      }),
    updateSessionAuth: (id, auth) =>
      run(async (db) => {
        const { rows } = await db.query(
          `UPDATE ${s}.sessions SET auth_time = $2, amr = $3, acr = $4
           WHERE id = $1 AND revoked_at IS NULL RETURNING *`,
          [id, auth.authTimeMs, JSON.stringify(auth.amr), auth.acr],
        );
        return rows[0] ? toSession(rows[0]) : null;
      }),
    revokeSession: (id, atMs, reason, emit) =>
      transaction(async (db) => {
        const { rows } = await db.query(
          `UPDATE ${s}.sessions SET revoked_at = $2, revoke_reason = $3
           WHERE id = $1 AND revoked_at IS NULL RETURNING *`,
          [id, atMs, reason],
        );
        if (!rows[0]) return null;
        const revoked = toSession(rows[0]);
        await ctx.appendEvents(db, emit?.(revoked) ?? []);
        return revoked;
      }),
    revokeUserSessions: (userId, atMs, reason, options = {}) =>
      transaction(async (db) => {
        const revoked = await ctx.revokeUserSessions(
          db,
          userId,
          atMs,
          reason,
          options.exceptSessionId ?? null,
        );
        if (revoked.length > 0) await ctx.appendEvents(db, options.emit?.(revoked) ?? []);
        return revoked;
      }),
    listLiveSessions: (userId, nowMs) =>
      run(async (db) => {
        const { rows } = await db.query(
          `SELECT * FROM ${s}.sessions
           WHERE user_id = $1 AND revoked_at IS NULL AND $2 < idle_expires_at AND $2 < absolute_expires_at
           ORDER BY created_at ASC, id COLLATE "C" ASC`,
          [userId, nowMs],
        );
        return rows.map(toSession);
      }),
    changePassword: (userId, passwordHash, keepSessionId, atMs, emit) =>
      transaction(async (db) => {
        const user = await ctx.patchUser(db, userId, {
          passwordHash,
          bumpTokenVersion: true,
          updatedAtMs: atMs,
        });
        if (!user) return null;
        const revoked = await ctx.revokeUserSessions(db, userId, atMs, 'password_changed', keepSessionId);
        const result = { user, revoked };
        await ctx.appendEvents(db, emit?.(result) ?? []);
        return result;
      }),
    emergencyRevokeAll: (atMs) =>
      transaction(async (db) => {
        await db.query(
          `INSERT INTO ${s}.meta (key, value) VALUES ('global_not_before', $1)
           ON CONFLICT (key) DO UPDATE SET value = GREATEST(${s}.meta.value::bigint, EXCLUDED.value::bigint)::text`,
          [String(atMs)],
        );
        // Locked in id order, as a batch of rotations locks: the two never deadlock.
        const { rowCount } = await db.query(
          `WITH ${lockedInIdOrder(`${s}.sessions t`, 't.revoked_at IS NULL', 'FOR NO KEY UPDATE')}
           UPDATE ${s}.sessions AS t SET revoked_at = $1, revoke_reason = 'emergency'
           FROM locked l WHERE t.id = l.id`,
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
      transaction(async (db) => {
        // One budget across the three tables, in this order; each query matches an index. Sessions
        // are chosen as they come (the first `limit` the index hands out, not a sort of every ended
        // one), then locked in id order, as a batch of rotations locks, so the two never deadlock.
        const sweeps = [
          `WITH chosen AS MATERIALIZED (
             SELECT t.id FROM ${s}.sessions t WHERE ${ENDED} LIMIT $2
           ),
           ${lockedInIdOrder(`chosen c JOIN ${s}.sessions t ON t.id = c.id`, ENDED, 'FOR UPDATE')}
           DELETE FROM ${s}.sessions AS t USING locked l WHERE t.id = l.id`,
          `DELETE FROM ${s}.one_time_tokens WHERE token_hash IN (
             SELECT token_hash FROM ${s}.one_time_tokens
             WHERE LEAST(coalesce(used_at, expires_at), coalesce(voided_at, expires_at)) < $1
             LIMIT $2)`,
          `DELETE FROM ${s}.outbox WHERE id IN (
             SELECT id FROM ${s}.outbox WHERE state = 'delivered' AND delivered_at < $1 LIMIT $2)`,
        ];
        let left = Math.max(0, limit);
        for (const sql of sweeps) {
          if (left === 0) break;
          left -= (await db.query(sql, [beforeMs, left])).rowCount ?? 0;
        }
        return Math.max(0, limit) - left;
      }),
    listRevokedSince: (sinceMs, limit) =>
      run(async (db) => {
        const { rows } = await db.query(
          `SELECT * FROM ${s}.sessions WHERE revoked_at >= $1 ORDER BY revoked_at ASC, id COLLATE "C" ASC LIMIT $2`,
          [sinceMs, Math.max(0, limit)],
        );
        return rows.map(toSession);
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
  };
}
