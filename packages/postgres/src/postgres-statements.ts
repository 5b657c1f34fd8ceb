// The statements of a refresh, prepared once per connection (`pg`'s named statements: PostgreSQL
// parses and plans each once per connection, not once per request). Rows come back as one `jsonb`
// value per table (`to_jsonb(t)`), not `*`: a prepared `SELECT *` fails with "cached plan must not
// change result type" on every connection that prepared it once a migration adds a column (a rolling
// upgrade), while a jsonb result keeps its type and still carries every column, new ones included.

/** A named statement: `pg` prepares `text` under `name` on first use on each connection. */
export interface PreparedStatement {
  name: string;
  text: string;
}

/** The prepared statements of the refresh path, for tables in `schema`. */
export interface RefreshStatements {
  findSession: PreparedStatement;
  findSessionWithUser: PreparedStatement;
  findUserById: PreparedStatement;
  rotateSession: PreparedStatement;
  rotateSessionInOneStep: PreparedStatement;
  rotateSessionsInOneStep: PreparedStatement;
}

// The one-step rotation's conditions over a batch's input row `i`, session `t` and user `u`.
const ROTATABLE = `t.generation = i.generation AND t.revoked_at IS NULL AND t.dpop_jkt IS NULL
                 AND i.now_ms < t.idle_expires_at AND i.now_ms < t.absolute_expires_at
                 AND (i.max_login_age_ms = 0 OR i.now_ms < t.auth_time + i.max_login_age_ms)
                 AND NOT u.disabled AND NOT u.reauth_required`;

/**
 * The lock every statement writing many session rows takes first, as its CTE `locked` (the ids of the
 * rows it holds): the sessions `t` that `from` and `where` select, locked in id order (`t.id`, the
 * column's own collation; LockRows sits above the sort, so rows are locked as the sort hands them out).
 * Any two such statements (a batch of rotations, revoking a user's sessions, an eviction, an emergency
 * revocation, the sweeper) wait for each other in one order and never deadlock; each then writes only
 * rows in `locked`. A row another transaction changed while this one waited is checked against `where`
 * again (READ COMMITTED) and left out if it no longer matches. `strength` is the lock the write takes
 * anyway, so it never has to be upgraded: `FOR UPDATE` for a DELETE, `FOR NO KEY UPDATE` for an UPDATE
 * of non-key columns.
 */
export function lockedInIdOrder(
  from: string,
  where: string,
  strength: 'FOR UPDATE' | 'FOR NO KEY UPDATE',
): string {
  return `locked AS MATERIALIZED (
               SELECT t.id FROM ${from}
               WHERE ${where}
               ORDER BY t.id
               ${strength} OF t
             )`;
}

/**
 * Builds the refresh path's statements for `schema` (already validated). Names are fixed: one pool
 * serves one schema, and `pg` refuses one name for two texts on a connection.
 */
export function refreshStatements(schema: string): RefreshStatements {
  const s = schema;
  return {
    findSession: {
      name: 'tessera_find_session',
      text: `SELECT to_jsonb(t) AS session FROM ${s}.sessions t WHERE t.id = $1`,
    },
    findSessionWithUser: {
      name: 'tessera_find_session_with_user',
      text: `SELECT to_jsonb(t) AS session, to_jsonb(u) AS "user"
             FROM ${s}.sessions t LEFT JOIN ${s}.users u ON u.id = t.user_id WHERE t.id = $1`,
    },
    findUserById: {
      name: 'tessera_find_user',
      text: `SELECT to_jsonb(u) AS "user" FROM ${s}.users u WHERE u.id = $1`,
    },
    // One conditional UPDATE: of concurrent rotations from one generation, at any instance, one
    // matches; the others see the row the winner committed and change nothing.
    rotateSession: {
      name: 'tessera_rotate_session',
      text: `UPDATE ${s}.sessions AS t SET generation = t.generation + 1, rotated_at = $3, last_seen_at = $3,
               idle_expires_at = $4, ip = $5, user_agent = $6, dpop_jkt = coalesce($7, t.dpop_jkt)
             WHERE t.id = $1 AND t.generation = $2 AND t.revoked_at IS NULL
               AND ($7::text IS NULL OR t.dpop_jkt IS NULL OR t.dpop_jkt = $7)
             RETURNING to_jsonb(t) AS session`,
    },
    // A refresh in one round trip: the same compare-and-set, guarded by every check the engine makes
    // before rotating (live, not DPoP-bound, a user neither disabled nor forced to log in again), and
    // the row and user as this statement's snapshot saw them for when it does not rotate. A data-
    // modifying CTE runs once; the outer SELECT sees the table as it was before it (PostgreSQL
    // gives every part of one statement the same snapshot). A concurrent winner makes the UPDATE
    // wait for its commit and then match nothing (READ COMMITTED re-checks the new row version).
    rotateSessionInOneStep: {
      name: 'tessera_rotate_session_in_one_step',
      text: `WITH rotated AS (
               UPDATE ${s}.sessions AS t SET generation = t.generation + 1, rotated_at = $3::bigint,
                 last_seen_at = $3::bigint,
                 idle_expires_at = LEAST($3::bigint + $4::bigint, t.absolute_expires_at),
                 ip = coalesce($6::text, t.ip), user_agent = coalesce($7::text, t.user_agent)
               FROM ${s}.users AS u
               WHERE t.id = $1 AND u.id = t.user_id AND t.generation = $2 AND t.revoked_at IS NULL
                 AND t.dpop_jkt IS NULL
                 AND $3::bigint < t.idle_expires_at AND $3::bigint < t.absolute_expires_at
                 AND ($5::bigint = 0 OR $3::bigint < t.auth_time + $5::bigint)
                 AND NOT u.disabled AND NOT u.reauth_required
               RETURNING to_jsonb(t) AS session
             )
             SELECT (SELECT session FROM rotated) AS rotated, to_jsonb(t) AS session, to_jsonb(u) AS "user"
             FROM ${s}.sessions t LEFT JOIN ${s}.users u ON u.id = t.user_id WHERE t.id = $1`,
    },
    // The same for many sessions (one each) in one statement: one round trip and one commit for all,
    // each row its own compare-and-set under the conditions above, with the statement's snapshot for
    // the rows it refuses. Rows are locked first, in id order ({@link lockedInIdOrder}), so two
    // batches (two instances, or two in flight from one), or a batch and another multi-row writer,
    // wait for each other in one order and never deadlock; the UPDATE then only touches rows it holds.
    // Only rows that pass the conditions are locked: a refused row is not waited for. Answers come in
    // input order (`n`).
    // Generations are bigint here: an out-of-range one refuses its row instead of failing the batch.
    rotateSessionsInOneStep: {
      name: 'tessera_rotate_sessions_in_one_step',
      text: `WITH input AS MATERIALIZED (
               SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[],
                 $6::text[], $7::text[])
                 WITH ORDINALITY AS i(id, generation, now_ms, idle_ttl_ms, max_login_age_ms, ip, user_agent, n)
             ),
             ${lockedInIdOrder(
               `input i JOIN ${s}.sessions t ON t.id = i.id JOIN ${s}.users u ON u.id = t.user_id`,
               ROTATABLE,
               'FOR NO KEY UPDATE',
             )},
             rotated AS (
               UPDATE ${s}.sessions AS t SET generation = t.generation + 1, rotated_at = i.now_ms,
                 last_seen_at = i.now_ms,
                 idle_expires_at = LEAST(i.now_ms + i.idle_ttl_ms, t.absolute_expires_at),
                 ip = coalesce(i.ip, t.ip), user_agent = coalesce(i.user_agent, t.user_agent)
               FROM locked l, input i, ${s}.users u
               WHERE t.id = l.id AND i.id = l.id AND u.id = t.user_id AND ${ROTATABLE}
               RETURNING t.id, to_jsonb(t) AS session
             )
             SELECT r.id IS NOT NULL AS rotated, coalesce(r.session, to_jsonb(t)) AS session,
               to_jsonb(u) AS "user"
             FROM input i LEFT JOIN rotated r ON r.id = i.id
               LEFT JOIN ${s}.sessions t ON t.id = i.id LEFT JOIN ${s}.users u ON u.id = t.user_id
             ORDER BY i.n`,
    },
  };
}
