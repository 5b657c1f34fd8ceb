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
  {
    version: 3,
    // Users without an email or a password; identities, recovery codes, known devices, one-time
    // tokens and the webhook outbox; step-up and DPoP on sessions. Outbox data is text holding JSON,
    // not jsonb: jsonb refuses \u0000, which JSON.stringify writes for a NUL in any string.
    sql: (s) => `
      ALTER TABLE ${s}.users
        ALTER COLUMN email DROP NOT NULL,
        ALTER COLUMN password_hash DROP NOT NULL,
        ADD COLUMN email_verified boolean NOT NULL DEFAULT false,
        ADD COLUMN totp_pending_secret text,
        ADD COLUMN totp_last_step bigint;
      -- listUsers pages in code-point order whatever the database collation.
      CREATE INDEX users_id_c_idx ON ${s}.users (id COLLATE "C");
      ALTER TABLE ${s}.sessions ADD COLUMN acr text, ADD COLUMN dpop_jkt text;
      CREATE TABLE ${s}.identities (
        issuer text NOT NULL,
        subject text NOT NULL,
        user_id text NOT NULL REFERENCES ${s}.users(id) ON DELETE CASCADE,
        created_at bigint NOT NULL,
        PRIMARY KEY (issuer, subject)
      );
      CREATE INDEX identities_user_idx ON ${s}.identities (user_id, created_at);
      CREATE TABLE ${s}.recovery_codes (
        user_id text NOT NULL REFERENCES ${s}.users(id) ON DELETE CASCADE,
        code_hash text NOT NULL,
        used_at bigint,
        PRIMARY KEY (user_id, code_hash)
      );
      CREATE TABLE ${s}.known_devices (
        user_id text NOT NULL REFERENCES ${s}.users(id) ON DELETE CASCADE,
        fingerprint text NOT NULL,
        first_seen_at bigint NOT NULL,
        PRIMARY KEY (user_id, fingerprint)
      );
      CREATE TABLE ${s}.one_time_tokens (
        token_hash text PRIMARY KEY,
        kind text NOT NULL,
        user_id text NOT NULL REFERENCES ${s}.users(id) ON DELETE CASCADE,
        email text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        used_at bigint,
        voided_at bigint
      );
      CREATE INDEX one_time_tokens_user_idx ON ${s}.one_time_tokens (user_id, kind)
        WHERE used_at IS NULL AND voided_at IS NULL;
      CREATE INDEX one_time_tokens_ended_idx ON ${s}.one_time_tokens
        ((LEAST(coalesce(used_at, expires_at), coalesce(voided_at, expires_at))));
      CREATE TABLE ${s}.outbox (
        id text PRIMARY KEY,
        type text NOT NULL,
        data text NOT NULL,
        created_at bigint NOT NULL,
        state text NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at bigint NOT NULL,
        delivered_at bigint,
        last_error text,
        lease_owner text,
        lease_until bigint NOT NULL DEFAULT 0
      );
      CREATE INDEX outbox_due_idx ON ${s}.outbox (next_attempt_at, (id COLLATE "C")) WHERE state = 'pending';
      CREATE INDEX outbox_state_idx ON ${s}.outbox (state, created_at, (id COLLATE "C"));
      CREATE INDEX outbox_delivered_idx ON ${s}.outbox (delivered_at) WHERE state = 'delivered';
    `,
  },
];
