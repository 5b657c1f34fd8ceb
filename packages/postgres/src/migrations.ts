/** Versioned schema migrations. Append only: a released migration never changes. */
export const MIGRATIONS: ReadonlyArray<{ version: number; sql: (schema: string) => string }> = [
  {
    version: 1,
    sql: (s) => `
      CREATE TABLE ${s}.users (
        id text PRIMARY KEY,
        email text NOT NULL UNIQUE,
        password_hash text NOT NULL,
        token_version integer NOT NULL,
        roles jsonb NOT NULL,
        profile jsonb NOT NULL,
        disabled boolean NOT NULL,
        reauth_required boolean NOT NULL,
        totp_secret text,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL
      );
      CREATE TABLE ${s}.sessions (
        id text PRIMARY KEY,
        user_id text NOT NULL REFERENCES ${s}.users(id) ON DELETE CASCADE,
        created_at bigint NOT NULL,
        auth_time bigint NOT NULL,
        last_seen_at bigint NOT NULL,
        idle_expires_at bigint NOT NULL,
        absolute_expires_at bigint NOT NULL,
        ip text,
        user_agent text,
        device_name text,
        amr jsonb NOT NULL,
        generation integer NOT NULL,
        rotated_at bigint NOT NULL,
        salt text NOT NULL,
        revoked_at bigint,
        revoke_reason text
      );
      CREATE INDEX sessions_user_idx ON ${s}.sessions (user_id, created_at);
      CREATE INDEX sessions_revoked_idx ON ${s}.sessions (revoked_at) WHERE revoked_at IS NOT NULL;
      CREATE INDEX sessions_ended_idx ON ${s}.sessions ((LEAST(idle_expires_at, absolute_expires_at)));
      CREATE INDEX users_updated_idx ON ${s}.users (updated_at);
      CREATE TABLE ${s}.signing_keys (
        kid text PRIMARY KEY,
        alg text NOT NULL,
        public_jwk text NOT NULL,
        private_jwk_encrypted text NOT NULL,
        created_at bigint NOT NULL,
        retired_at bigint
      );
      CREATE TABLE ${s}.meta (key text PRIMARY KEY, value text NOT NULL);
    `,
  },
  {
    version: 2,
    // The feed lists token-version bumps only: a new user must not add an entry to every verifier.
    sql: (s) => `
      ALTER TABLE ${s}.users ADD COLUMN token_version_changed_at bigint;
      UPDATE ${s}.users SET token_version_changed_at = updated_at WHERE token_version > 1;
      CREATE INDEX users_version_changed_idx ON ${s}.users (token_version_changed_at)
        WHERE token_version_changed_at IS NOT NULL;
    `,
  },
];
