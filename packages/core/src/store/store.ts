/**
 * The storage contract of the engine. Every driver (memory, SQLite, PostgreSQL, …) implements
 * it and passes the shared conformance suite in `@tessera/core/testing`.
 *
 * Times are milliseconds since the Unix epoch (`…Ms`). Records are plain data: a driver returns
 * fresh objects, and the engine never mutates one it was given.
 */

/** Why a session ended. Stable strings: they appear in events, the revocation feed and the API. */
export type RevokeReason =
  | 'logout'
  | 'logout_all'
  | 'device_revoked'
  | 'password_changed'
  | 'admin'
  | 'account_disabled'
  | 'reuse_detected'
  | 'emergency'
  | 'evicted'
  | 'reauthentication_required';

/** A user account. */
export interface UserRecord {
  /** Opaque, immutable id; the `sub` of access tokens. */
  id: string;
  /** Normalized (trimmed, lower-case) email; unique. */
  email: string;
  /** An argon2id PHC string. */
  passwordHash: string;
  /** Bumped when a change must reach tokens already issued; access tokens carry it as `ver`. */
  tokenVersion: number;
  /** Roles, carried in access tokens. Never self-assigned. */
  roles: string[];
  /** Profile claims carried in access tokens (`name`, `phone_number`, configured extras). */
  profile: Record<string, string | null>;
  /** A disabled account cannot log in or refresh. */
  disabled: boolean;
  /** Force re-authentication: the next refresh of any session fails and the user must log in. */
  reauthRequired: boolean;
  /** Base32 TOTP secret when the user enrolled in two-factor login. */
  totpSecret: string | null;
  createdAtMs: number;
  updatedAtMs: number;
}

/** One login on one device. */
export interface SessionRecord {
  /** Opaque id (base64url of 16 random bytes); the `sid` of access tokens. */
  id: string;
  userId: string;
  createdAtMs: number;
  /** When the user last proved who they are (password, TOTP) for this session. */
  authTimeMs: number;
  /** The last refresh. */
  lastSeenAtMs: number;
  /** Idle expiry: `lastSeenAtMs + idle TTL`, never past the absolute expiry. */
  idleExpiresAtMs: number;
  /** Absolute expiry: the session cannot be refreshed past it whatever the activity. */
  absoluteExpiresAtMs: number;
  ip: string | null;
  userAgent: string | null;
  deviceName: string | null;
  /** Authentication methods used (RFC 8176 values: `pwd`, `otp`). */
  amr: string[];
  /** The refresh-token generation currently valid. Starts at 1; +1 per rotation. */
  generation: number;
  /** When `generation` last changed (creation time for generation 1). */
  rotatedAtMs: number;
  /** Per-session random salt (base64url) mixed into the refresh-token MAC. */
  salt: string;
  revokedAtMs: number | null;
  revokeReason: RevokeReason | null;
}

/** A signing key. The private half is encrypted at rest under a key derived from the secret. */
export interface SigningKeyRecord {
  kid: string;
  alg: string;
  /** The public JWK as JSON. */
  publicJwk: string;
  /** The private JWK, encrypted (AES-256-GCM), base64url. */
  privateJwkEncrypted: string;
  createdAtMs: number;
  /** Set when a newer key took over signing; the key stays published until its tokens expire. */
  retiredAtMs: number | null;
}

/** Changes to a user. Absent fields are left alone. */
export interface UserPatch {
  passwordHash?: string;
  roles?: string[];
  /** Merged into the profile; a `null` value clears that field. */
  profile?: Record<string, string | null>;
  disabled?: boolean;
  reauthRequired?: boolean;
  totpSecret?: string | null;
  /** Increment `tokenVersion` by one, atomically with the other changes. */
  bumpTokenVersion?: boolean;
  updatedAtMs: number;
}

/** The fields a rotation writes. */
export interface RotationUpdate {
  nowMs: number;
  idleExpiresAtMs: number;
  ip: string | null;
  userAgent: string | null;
}

/** What a driver can and cannot do; the conformance suite skips what a driver lacks. */
export interface StoreCapabilities {
  /** Data survives `close()` and a reopen (SQLite, PostgreSQL; not memory). */
  durable: boolean;
  /** Several processes may share it. */
  multiProcess: boolean;
}

/**
 * Storage for users, sessions, signing keys and global settings.
 *
 * Semantics every driver guarantees:
 * - A lookup of a missing row returns `null`; only an unreachable database throws
 *   ({@link StoreUnavailableError}).
 * - {@link Store.rotateSession} is a compare-and-set: of any number of concurrent calls with the
 *   same `fromGeneration`, across processes, exactly one succeeds.
 * - Revocation is sticky: once `revokedAtMs` is set it never changes again.
 * - Multi-row operations (`createSession` with a cap, `changePassword`, `emergencyRevokeAll`) are
 *   atomic: all of it happens or none.
 */
export interface Store {
  readonly capabilities: StoreCapabilities;

  /** Inserts a user. Returns `'email_taken'` (and writes nothing) if the email exists. */
  createUser(user: UserRecord): Promise<'created' | 'email_taken'>;
  findUserById(id: string): Promise<UserRecord | null>;
  /** Looks a user up by normalized email. */
  findUserByEmail(email: string): Promise<UserRecord | null>;
  /** Applies `patch` atomically; returns the updated user, or `null` if there is none. */
  updateUser(id: string, patch: UserPatch): Promise<UserRecord | null>;

  /**
   * Inserts a session. With `maxPerUser` > 0, first revokes (reason `evicted`) the user's oldest
   * live sessions so that at most `maxPerUser` remain including the new one, atomically.
   * Returns the evicted sessions.
   */
  createSession(session: SessionRecord, maxPerUser?: number): Promise<SessionRecord[]>;
  findSession(id: string): Promise<SessionRecord | null>;
  /**
   * Compare-and-set rotation: if the session exists, is not revoked and its generation equals
   * `fromGeneration`, sets generation to `fromGeneration + 1`, `rotatedAtMs`/`lastSeenAtMs` to
   * `update.nowMs`, and the idle expiry, IP and user agent; returns the updated row. Otherwise
   * changes nothing and returns `null`.
   */
  rotateSession(id: string, fromGeneration: number, update: RotationUpdate): Promise<SessionRecord | null>;
  /** Revokes one session if it is not revoked yet; returns the revoked row, or `null` if nothing changed. */
  revokeSession(id: string, atMs: number, reason: RevokeReason): Promise<SessionRecord | null>;
  /** Revokes every unrevoked session of a user except `exceptSessionId`; returns the rows it revoked. */
  revokeUserSessions(
    userId: string,
    atMs: number,
    reason: RevokeReason,
    exceptSessionId?: string,
  ): Promise<SessionRecord[]>;
  /** The user's sessions that are neither revoked nor expired at `nowMs`, oldest first. */
  listLiveSessions(userId: string, nowMs: number): Promise<SessionRecord[]>;
  /**
   * Atomically sets the password hash, bumps the token version and revokes (reason
   * `password_changed`) every other unrevoked session of the user.
   */
  changePassword(
    userId: string,
    passwordHash: string,
    keepSessionId: string | null,
    atMs: number,
  ): Promise<{ user: UserRecord; revoked: SessionRecord[] } | null>;
  /** Atomically sets the global not-before instant and revokes every session (reason `emergency`). */
  emergencyRevokeAll(atMs: number): Promise<number>;
  /** The global not-before instant (ms), or `null` if none was ever set. */
  getGlobalNotBeforeMs(): Promise<number | null>;
  /**
   * Deletes at most `limit` sessions that were revoked, or expired, before `beforeMs`.
   * Returns how many it deleted (less than `limit` means nothing is left to sweep).
   */
  sweepSessions(beforeMs: number, limit: number): Promise<number>;
  /** Sessions revoked at or after `sinceMs` (for the revocation feed), at most `limit`, oldest first. */
  listRevokedSince(sinceMs: number, limit: number): Promise<SessionRecord[]>;

  /**
   * Users changed at or after `sinceMs` (for the revocation feed: a bumped token version must reach
   * verifiers), at most `limit`, oldest change first.
   */
  listUsersUpdatedSince(
    sinceMs: number,
    limit: number,
  ): Promise<Array<{ id: string; tokenVersion: number; updatedAtMs: number }>>;

  /** Every stored signing key, newest first. */
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Inserts `key` and marks every other unretired key retired at `key.createdAtMs`, atomically. */
  addSigningKey(key: SigningKeyRecord): Promise<void>;
  deleteSigningKey(kid: string): Promise<void>;

  /** Resolves when the database answers; throws {@link StoreUnavailableError} otherwise. */
  ping(): Promise<void>;
  /** Releases connections and file handles. */
  close(): Promise<void>;
}
