import type { Store } from '@tessera/core';
import { type PostgresContext, Rollback } from './postgres-context.ts';
import { isEmailTaken } from './postgres-errors.ts';
import { toIdentity, toUser } from './postgres-rows.ts';

type UserMethods = Pick<
  Store,
  | 'createUser'
  | 'findUserById'
  | 'findUserByEmail'
  | 'listUsers'
  | 'updateUser'
  | 'acceptTotpStep'
  | 'setRecoveryCodes'
  | 'useRecoveryCode'
  | 'countRecoveryCodes'
  | 'linkIdentity'
  | 'unlinkIdentity'
  | 'findUserByIdentity'
  | 'listIdentities'
  | 'listUsersUpdatedSince'
>;

/** The PostgreSQL store's users, external identities and two-factor state. */
export function postgresUserMethods(ctx: PostgresContext): UserMethods {
  const { s, run, transaction } = ctx;
  return {
    createUser: (user, options = {}) =>
      transaction(async (db) => {
        // A concurrent insert of the same email or id waits for the first to commit, then does nothing.
        const inserted = await db.query(
          `INSERT INTO ${s}.users (id, email, email_verified, password_hash, token_version, token_version_changed_at,
             roles, profile, disabled, reauth_required, totp_secret, totp_pending_secret, totp_last_step,
             created_at, updated_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15) ON CONFLICT DO NOTHING`,
          [
            user.id,
            user.email,
            user.emailVerified,
            user.passwordHash,
            user.tokenVersion,
            user.tokenVersionChangedAtMs,
            JSON.stringify(user.roles),
            JSON.stringify(user.profile),
            user.disabled,
            user.reauthRequired,
            user.totpSecret,
            user.totpPendingSecret,
            user.totpLastStep,
            user.createdAtMs,
            user.updatedAtMs,
          ],
        );
        if (inserted.rowCount !== 1) return 'email_taken';
        if (options.identity) {
          const linked = await db.query(
            `INSERT INTO ${s}.identities (issuer, subject, user_id, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING`,
            [options.identity.issuer, options.identity.subject, user.id, user.createdAtMs],
          );
          // Of concurrent first sign-ins with one identity, the later ones land here and undo their user.
          if (linked.rowCount !== 1) throw new Rollback('identity_taken' as const);
        }
        const newDevice = options.session
          ? (await ctx.insertSession(db, options.session, { deviceFingerprint: options.deviceFingerprint }))
              .newDevice
          : false;
        await ctx.appendEvents(db, options.emit?.({ newDevice }) ?? []);
        return 'created' as const;
      }),
    findUserById: (id) =>
      run(async (db) => {
        const { rows } = await db.query({ ...ctx.statements.findUserById, values: [id] });
        return rows[0] ? toUser(rows[0].user) : null;
      }),
    findUserByEmail: (email) =>
      run(async (db) => {
        const { rows } = await db.query(`SELECT * FROM ${s}.users WHERE email = $1`, [email]);
        return rows[0] ? toUser(rows[0]) : null;
      }),
    listUsers: (afterId, limit) =>
      run(async (db) => {
        const { rows } =
          afterId === null
            ? await db.query(`SELECT * FROM ${s}.users ORDER BY id COLLATE "C" LIMIT $1`, [
                Math.max(0, limit),
              ])
            : await db.query(
                `SELECT * FROM ${s}.users WHERE id COLLATE "C" > $1 ORDER BY id COLLATE "C" LIMIT $2`,
                [afterId, Math.max(0, limit)],
              );
        return rows.map(toUser);
      }),
    updateUser: async (id, patch, emit) => {
      try {
        return await transaction(async (db) => {
          const user = await ctx.patchUser(db, id, patch);
          if (user) await ctx.appendEvents(db, emit?.(user) ?? []);
          return user;
        });
      } catch (error) {
        if (isEmailTaken(error)) return 'email_taken';
        throw error;
      }
    },
    listUsersUpdatedSince: (sinceMs, limit) =>
      run(async (db) => {
        const { rows } = await db.query(
          `SELECT id, token_version, token_version_changed_at AS updated_at FROM ${s}.users
           WHERE token_version_changed_at >= $1
           ORDER BY token_version_changed_at ASC, id ASC LIMIT $2`,
          [sinceMs, Math.max(0, limit)],
        );
        return rows.map((row) => ({
          id: row.id as string,
          tokenVersion: row.token_version as number,
          updatedAtMs: row.updated_at as number,
        }));
      }),

    acceptTotpStep: (userId, step) =>
      run(async (db) => {
        // The row lock makes a concurrent call with the same step re-check the condition, and fail.
        const { rowCount } = await db.query(
          `UPDATE ${s}.users SET totp_last_step = $2
           WHERE id = $1 AND (totp_last_step IS NULL OR totp_last_step < $2)`,
          [userId, step],
        );
        return rowCount === 1;
      }),
    setRecoveryCodes: (userId, codeHashes, options) =>
      transaction(async (db) => {
        const { rows } = options.confirmTotp
          ? await db.query(
              `UPDATE ${s}.users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL, updated_at = $2
               WHERE id = $1 AND totp_pending_secret IS NOT NULL RETURNING *`,
              [userId, options.atMs],
            )
          : await db.query(`UPDATE ${s}.users SET updated_at = $2 WHERE id = $1 RETURNING *`, [
              userId,
              options.atMs,
            ]);
        if (!rows[0]) return null;
        await db.query(`DELETE FROM ${s}.recovery_codes WHERE user_id = $1`, [userId]);
        await db.query(
          `INSERT INTO ${s}.recovery_codes (user_id, code_hash) SELECT $1, unnest($2::text[])
           ON CONFLICT DO NOTHING`,
          [userId, [...codeHashes]],
        );
        const user = toUser(rows[0]);
        await ctx.appendEvents(db, options.emit?.(user) ?? []);
        return user;
      }),
    useRecoveryCode: (userId, codeHash, atMs) =>
      run(async (db) => {
        const { rowCount } = await db.query(
          `UPDATE ${s}.recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL`,
          [userId, codeHash, atMs],
        );
        return rowCount === 1;
      }),
    countRecoveryCodes: (userId) =>
      run(async (db) => {
        const { rows } = await db.query(
          `SELECT count(*)::int AS n FROM ${s}.recovery_codes WHERE user_id = $1 AND used_at IS NULL`,
          [userId],
        );
        return rows[0]?.n as number;
      }),

    linkIdentity: (userId, identity, atMs) =>
      run(async (db) => {
        const inserted = await db.query(
          `INSERT INTO ${s}.identities (issuer, subject, user_id, created_at)
           SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM ${s}.users WHERE id = $3)
           ON CONFLICT DO NOTHING`,
          [identity.issuer, identity.subject, userId, atMs],
        );
        if (inserted.rowCount === 1) return 'linked';
        // Read after the insert: a concurrent link of the same identity has committed by now.
        const { rows } = await db.query(
          `SELECT user_id FROM ${s}.identities WHERE issuer = $1 AND subject = $2`,
          [identity.issuer, identity.subject],
        );
        return rows[0]?.user_id === userId ? 'already_linked' : 'taken';
      }),
    unlinkIdentity: (userId, identity) =>
      run(async (db) => {
        const { rowCount } = await db.query(
          `DELETE FROM ${s}.identities WHERE issuer = $1 AND subject = $2 AND user_id = $3`,
          [identity.issuer, identity.subject, userId],
        );
        return rowCount === 1;
      }),
    findUserByIdentity: (identity) =>
      run(async (db) => {
        const { rows } = await db.query(
          `SELECT u.* FROM ${s}.identities i JOIN ${s}.users u ON u.id = i.user_id
           WHERE i.issuer = $1 AND i.subject = $2`,
          [identity.issuer, identity.subject],
        );
        return rows[0] ? toUser(rows[0]) : null;
      }),
    listIdentities: (userId) =>
      run(async (db) => {
        const { rows } = await db.query(
          `SELECT * FROM ${s}.identities WHERE user_id = $1
           ORDER BY created_at ASC, issuer COLLATE "C" ASC, subject COLLATE "C" ASC`,
          [userId],
        );
        return rows.map(toIdentity);
      }),
  };
}
