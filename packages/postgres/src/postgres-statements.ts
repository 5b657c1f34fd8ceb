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
  };
}
