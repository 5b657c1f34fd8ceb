import type { RedeemResult, SessionRecord, Store } from '@tessera/core';
import type { PostgresContext } from './postgres-context.ts';
import { isEmailTaken } from './postgres-errors.ts';
import { byId, toOutbox, toToken, toUser } from './postgres-rows.ts';

type OutboxMethods = Pick<
  Store,
  | 'createOneTimeToken'
  | 'redeemOneTimeToken'
  | 'appendOutbox'
  | 'claimOutbox'
  | 'finishOutboxAttempt'
  | 'listOutbox'
  | 'replayOutbox'
>;

// Longer failure texts are cut: the column holds a hint for operators, not a log.
const MAX_ERROR_LENGTH = 200;

/**
 * The PostgreSQL store's one-time tokens and webhook outbox. Locks are taken in one order, the
 * user's row before its tokens and sessions, so concurrent writes of one user queue instead of
 * deadlocking.
 */
export function postgresOutboxMethods(ctx: PostgresContext): OutboxMethods {
  const { s, run, transaction } = ctx;
  return {
    createOneTimeToken: (record, emit) =>
      transaction(async (db) => {
        // Serializes token creation per user: two concurrent ones must not both stay unvoided.
        await db.query(`SELECT 1 FROM ${s}.users WHERE id = $1 FOR UPDATE`, [record.userId]);
        await db.query(
          `UPDATE ${s}.one_time_tokens SET voided_at = $3
           WHERE user_id = $1 AND kind = $2 AND used_at IS NULL AND voided_at IS NULL`,
          [record.userId, record.kind, record.createdAtMs],
        );
        await db.query(
          `INSERT INTO ${s}.one_time_tokens (token_hash, kind, user_id, email, created_at, expires_at, used_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7)`,
          [
            record.tokenHash,
            record.kind,
            record.userId,
            record.email,
            record.createdAtMs,
            record.expiresAtMs,
            record.usedAtMs,
          ],
        );
        await ctx.appendEvents(db, emit?.({ ...record }) ?? []);
      }),
    redeemOneTimeToken: async (tokenHash, kind, nowMs, effect = {}) => {
      try {
        return await transaction(async (db): Promise<RedeemResult> => {
          const owner = await db.query(`SELECT user_id FROM ${s}.one_time_tokens WHERE token_hash = $1`, [
            tokenHash,
          ]);
          const userId = owner.rows[0]?.user_id as string | undefined;
          if (userId === undefined) return { status: 'invalid' };
          const locked = await db.query(`SELECT * FROM ${s}.users WHERE id = $1 FOR UPDATE`, [userId]);
          if (!locked.rows[0]) return { status: 'invalid' };
          // Of concurrent redemptions, the later ones wait on the row lock and then match nothing.
          const used = await db.query(
            `UPDATE ${s}.one_time_tokens SET used_at = $3
             WHERE token_hash = $1 AND kind = $2 AND used_at IS NULL AND voided_at IS NULL AND $3 < expires_at
             RETURNING *`,
            [tokenHash, kind, nowMs],
          );
          if (!used.rows[0]) return { status: 'invalid' };
          // A taken email fails with a unique violation: the whole redemption rolls back, token unused.
          const user = effect.userPatch
            ? await ctx.patchUser(db, userId, { ...effect.userPatch, updatedAtMs: nowMs })
            : toUser(locked.rows[0]);
          if (!user) return { status: 'invalid' };
          const revoked = effect.revokeSessions
            ? await ctx.revokeUserSessions(db, userId, nowMs, effect.revokeSessions, null)
            : [];
          const created: { evicted: SessionRecord[]; newDevice: boolean } = effect.createSession
            ? await ctx.insertSession(db, effect.createSession.session, effect.createSession)
            : { evicted: [], newDevice: false };
          const token = toToken(used.rows[0]);
          await ctx.appendEvents(
            db,
            effect.emit?.({
              user,
              previous: toUser(locked.rows[0]),
              token,
              revoked,
              evicted: created.evicted,
              newDevice: created.newDevice,
            }) ?? [],
          );
          return {
            status: 'redeemed',
            token,
            user,
            revoked,
            evicted: created.evicted,
            newDevice: created.newDevice,
          };
        });
      } catch (error) {
        if (isEmailTaken(error)) return { status: 'email_taken' };
        throw error;
      }
    },

    appendOutbox: (events) => transaction((db) => ctx.appendEvents(db, events)),
    claimOutbox: (nowMs, limit, leaseMs, owner) =>
      run(async (db) => {
        // SKIP LOCKED: instances claiming at once take disjoint events instead of queueing; a row another
        // claimer leased and committed meanwhile is re-checked and no longer matches.
        const { rows } = await db.query(
          `WITH due AS (
             SELECT id FROM ${s}.outbox
             WHERE state = 'pending' AND next_attempt_at <= $1 AND lease_until <= $1
             ORDER BY next_attempt_at ASC, id COLLATE "C" ASC
             LIMIT $2
             FOR UPDATE SKIP LOCKED)
           UPDATE ${s}.outbox o SET lease_owner = $3, lease_until = $4
           FROM due WHERE o.id = due.id
           RETURNING o.*`,
          [nowMs, Math.max(0, limit), owner, nowMs + leaseMs],
        );
        return rows.map(toOutbox).sort((a, b) => a.nextAttemptAtMs - b.nextAttemptAtMs || byId(a, b));
      }),
    finishOutboxAttempt: (id, owner, outcome) =>
      run(async (db) => {
        if (outcome.delivered) {
          await db.query(
            `UPDATE ${s}.outbox SET state = 'delivered', attempts = attempts + 1, delivered_at = $3,
               last_error = NULL, lease_owner = NULL, lease_until = 0
             WHERE id = $1 AND lease_owner = $2 AND state = 'pending'`,
            [id, owner, outcome.atMs],
          );
          return;
        }
        await db.query(
          `UPDATE ${s}.outbox SET attempts = attempts + 1, last_error = $3,
             state = CASE WHEN $4::bigint IS NULL THEN 'dead' ELSE 'pending' END,
             next_attempt_at = coalesce($4, next_attempt_at), lease_owner = NULL, lease_until = 0
           WHERE id = $1 AND lease_owner = $2 AND state = 'pending'`,
          [id, owner, outcome.error.slice(0, MAX_ERROR_LENGTH), outcome.nextAttemptAtMs],
        );
      }),
    listOutbox: (state, limit) =>
      run(async (db) => {
        const { rows } = await db.query(
          `SELECT * FROM ${s}.outbox WHERE state = $1 ORDER BY created_at DESC, id COLLATE "C" DESC LIMIT $2`,
          [state, Math.max(0, limit)],
        );
        return rows.map(toOutbox);
      }),
    replayOutbox: (id, nowMs) =>
      run(async (db) => {
        const { rowCount } = await db.query(
          `UPDATE ${s}.outbox SET state = 'pending', attempts = 0, next_attempt_at = $2, delivered_at = NULL,
             lease_owner = NULL, lease_until = 0
           WHERE id = $1 AND state <> 'pending'`,
          [id, nowMs],
        );
        return rowCount === 1;
      }),
  };
}
