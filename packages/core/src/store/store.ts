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
  | 'reauthentication_required'
  | 'password_reset';

/** A user account. */
export interface UserRecord {
  /** Opaque, immutable id; the `sub` of access tokens. */
  id: string;
  /** Normalized email (NFC, trimmed, lower-case); unique when set. `null` for a user known only by an external identity. */
  email: string | null;
  /** True once the user proved they receive mail at `email` (a verification link, or an identity provider's verified claim). */
  emailVerified: boolean;
  /** An argon2id PHC string; `null` for a user who signs in some other way (passkeys, an identity provider). */
  passwordHash: string | null;
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
  /** The TOTP secret (as the engine stores it: encrypted) once two-factor login is confirmed; `null` when off. */
  totpSecret: string | null;
  /** A TOTP secret handed out by enrolment and not confirmed yet. */
  totpPendingSecret: string | null;
  /** The last TOTP time step accepted for this user: a code of that step or an earlier one is refused (no replay). */
  totpLastStep: number | null;
  /** When the token version was last bumped (ms); `null` if never. The revocation feed reads it. */
  tokenVersionChangedAtMs: number | null;
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
  /** Authentication methods used (RFC 8176 values: `pwd`, `otp`, `mfa`, `email`, `ext`, …). */
  amr: string[];
  /** Authentication context class (`acr`), when the sign-in named one. */
  acr: string | null;
  /** RFC 9449: the JWK thumbprint of the key this session is bound to (DPoP), or `null` (bearer). */
  dpopJkt: string | null;
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
  /** A new normalized email; the driver answers `email_taken` instead of applying the patch when another user has it. */
  email?: string | null;
  emailVerified?: boolean;
  passwordHash?: string | null;
  roles?: string[];
  /** Merged into the profile; a `null` value clears that field. */
  profile?: Record<string, string | null>;
  disabled?: boolean;
  reauthRequired?: boolean;
  totpSecret?: string | null;
  totpPendingSecret?: string | null;
  /** Increment `tokenVersion` by one (and set `tokenVersionChangedAtMs`), atomically with the other changes. */
  bumpTokenVersion?: boolean;
  updatedAtMs: number;
}

/** The fields a rotation writes. */
export interface RotationUpdate {
  nowMs: number;
  idleExpiresAtMs: number;
  ip: string | null;
  userAgent: string | null;
  /**
   * RFC 9449: bind a session that is not bound yet to this key thumbprint. The compare-and-set then
   * also requires the session's `dpopJkt` to be `null` or equal to it.
   */
  dpopJkt?: string;
}

/**
 * A refresh's rotation as {@link Store.rotateSessionInOneStep} takes it: the values the store derives
 * from the row it reads (idle expiry capped by the absolute one, IP and user agent kept when not sent).
 */
export interface OneStepRotation {
  nowMs: number;
  /** The idle expiry becomes `min(nowMs + idleTtlMs, absoluteExpiresAtMs)`. */
  idleTtlMs: number;
  /** Rotation is refused at or past `authTimeMs + maxLoginAgeMs`; 0 for no maximum login age. */
  maxLoginAgeMs: number;
  /** The client's IP, or `null` to keep the session's. */
  ip: string | null;
  /** The client's user agent, or `null` to keep the session's. */
  userAgent: string | null;
}

/** The answer of {@link Store.rotateSessionInOneStep}. */
export interface OneStepRotationResult {
  /** True when this call rotated the session. */
  rotated: boolean;
  /** The rotated row, or the row as this call read it (before a concurrent rotation it lost to, maybe). */
  session: SessionRecord;
  /** The session's user as read in the same step; `null` when the user row is gone. */
  user: UserRecord | null;
}

/** An account at an external identity provider (OIDC `iss` + `sub`, a passkey relying party, …). */
export interface IdentityKey {
  issuer: string;
  subject: string;
}

/** An external identity linked to a user. Unique per `(issuer, subject)`; a user may have many. */
export interface IdentityRecord extends IdentityKey {
  userId: string;
  createdAtMs: number;
}

/** What a one-time token is for. */
export type OneTimeTokenKind = 'password_reset' | 'email_verification' | 'magic_link' | 'email_change';

/** A one-time token (reset, verification, magic link, email change). Only its hash is stored. */
export interface OneTimeTokenRecord {
  /** SHA-256 of the token, base64url: the primary key. */
  tokenHash: string;
  kind: OneTimeTokenKind;
  userId: string;
  /** The address the token was sent to (for `email_change`: the new address to verify). */
  email: string;
  createdAtMs: number;
  expiresAtMs: number;
  /** Set when redeemed; a token is redeemed at most once. */
  usedAtMs: number | null;
}

/** A webhook event to append to the outbox, in the same transaction as the change that causes it. */
export interface OutboxEventInput {
  /** The Standard Webhooks message id (`msg_…`), unique: a write that appends an id already stored fails whole. */
  id: string;
  /** Event type, e.g. `session.created`. */
  type: string;
  /** The event's `data`, JSON-serializable. */
  data: Record<string, unknown>;
  createdAtMs: number;
}

/** The delivery state of an outbox event. */
export type OutboxState = 'pending' | 'delivered' | 'dead';

/** An outbox event with its delivery state. */
export interface OutboxRecord extends OutboxEventInput {
  state: OutboxState;
  /** Delivery attempts made so far. */
  attempts: number;
  /** When the next attempt is due (pending events). */
  nextAttemptAtMs: number;
  deliveredAtMs: number | null;
  /** A short description of the last failure (status code or network error); never a secret. */
  lastError: string | null;
}

/**
 * Builds the outbox events of a write from its result, inside the write's transaction: the events
 * exist if and only if the change does. Return `[]` for none. Not called when the write changes
 * nothing (a result of `null`, `'email_taken'`, …); if it throws, the write rejects with that error
 * and nothing of it happened.
 */
export type EmitEvents<T> = (result: T) => readonly OutboxEventInput[];

/** What redeeming a one-time token also does, in the same transaction. */
export interface RedeemEffect {
  /** Applied to the token's user (password, email, verified flag, token version, …). */
  userPatch?: Omit<UserPatch, 'updatedAtMs'>;
  /** Revoke every unrevoked session of the user with this reason (a password reset). */
  revokeSessions?: RevokeReason;
  /**
   * Insert this session (a magic-link sign-in), after the revocations; with `deviceFingerprint`, the
   * device is recorded for the user as {@link CreateSessionOptions.deviceFingerprint} says.
   */
  createSession?: { session: SessionRecord; maxPerUser: number; deviceFingerprint?: string };
  /**
   * Builds the events of the redemption, and may refuse it: if it throws, nothing happened and the token
   * stays unused. `user` is the user after `userPatch`, `previous` before it; `token` is the redeemed
   * record (its `usedAtMs` set); `evicted` the sessions `createSession`'s cap revoked; `newDevice` is
   * true when `createSession` named a fingerprint never seen for the user before.
   */
  emit?: EmitEvents<{
    user: UserRecord;
    previous: UserRecord;
    token: OneTimeTokenRecord;
    revoked: SessionRecord[];
    evicted: SessionRecord[];
    newDevice: boolean;
  }>;
}

/** The outcome of {@link Store.redeemOneTimeToken}. */
export type RedeemResult =
  | {
      status: 'redeemed';
      token: OneTimeTokenRecord;
      user: UserRecord;
      revoked: SessionRecord[];
      evicted: SessionRecord[];
      newDevice: boolean;
    }
  /** Unknown, of another kind, expired, already used or voided by a newer one: nothing changed. */
  | { status: 'invalid' }
  /** The patch's email belongs to another user now: nothing changed, the token stays unused. */
  | { status: 'email_taken' };

/** Options of {@link Store.createSession}. */
export interface CreateSessionOptions {
  /** With a value > 0, first revokes (reason `evicted`) the user's oldest live sessions so at most this many remain, new one included. */
  maxPerUser?: number;
  /**
   * A stable fingerprint of the device (the engine's HMAC of what identifies it). The driver records it
   * for the user and reports whether it was new.
   */
  deviceFingerprint?: string;
  emit?: EmitEvents<{ evicted: SessionRecord[]; newDevice: boolean }>;
}

/** What a driver can and cannot do; the conformance suite skips what a driver lacks. */
export interface StoreCapabilities {
  /** Data survives `close()` and a reopen (SQLite, PostgreSQL; not memory). */
  durable: boolean;
  /** Several processes may share it. */
  multiProcess: boolean;
}

/**
 * Storage for users, sessions, identities, one-time tokens, the webhook outbox, signing keys and
 * global settings.
 *
 * Semantics every driver guarantees:
 * - A lookup of a missing row returns `null`; only an unreachable database throws
 *   ({@link StoreUnavailableError}), and a full disk throws {@link StorageFullError}.
 * - **A write that resolves was committed durably.** A commit that fails (disk full, I/O error)
 *   rejects, and then nothing of the write happened. No method returns rows it did not commit.
 * - {@link Store.rotateSession} is a compare-and-set: of any number of concurrent calls with the
 *   same `fromGeneration`, across processes, exactly one succeeds.
 * - Revocation is sticky: once `revokedAtMs` is set it never changes again.
 * - Every method is atomic: a multi-row operation (a user with its first session, `createSession`
 *   with a cap, `changePassword`, `redeemOneTimeToken`, `emergencyRevokeAll`) happens whole or not
 *   at all, and the outbox events its `emit` builds are written in the same transaction.
 */
export interface Store {
  readonly capabilities: StoreCapabilities;

  /**
   * Inserts a user, and in the same transaction its first session (`options.session`) and/or an
   * external identity (`options.identity`) and the outbox events of `options.emit`. Returns
   * `'email_taken'` or `'identity_taken'` (and writes nothing) when the email, or the identity, is
   * another user's already.
   */
  createUser(
    user: UserRecord,
    options?: {
      session?: SessionRecord;
      identity?: IdentityKey;
      deviceFingerprint?: string;
      emit?: EmitEvents<{ newDevice: boolean }>;
    },
  ): Promise<'created' | 'email_taken' | 'identity_taken'>;
  findUserById(id: string): Promise<UserRecord | null>;
  /** Looks a user up by normalized email. */
  findUserByEmail(email: string): Promise<UserRecord | null>;
  /** Users in id order after `afterId` (exclusive; `null` from the start), at most `limit`. */
  listUsers(afterId: string | null, limit: number): Promise<UserRecord[]>;
  /**
   * Applies `patch` atomically; returns the updated user, `null` if there is none, or `'email_taken'`
   * (and changes nothing) when `patch.email` belongs to another user.
   */
  updateUser(
    id: string,
    patch: UserPatch,
    emit?: EmitEvents<UserRecord>,
  ): Promise<UserRecord | null | 'email_taken'>;
  /**
   * Atomically accepts TOTP time step `step` for the user: succeeds (true) only if `totpLastStep` is
   * `null` or lower, and then sets it to `step`. Of two concurrent calls with one step, one wins.
   */
  acceptTotpStep(userId: string, step: number): Promise<boolean>;
  /**
   * Replaces the user's recovery codes with `codeHashes` (SHA-256, base64url), confirms TOTP
   * (`totpSecret` = `totpPendingSecret`, pending cleared) when `confirmTotp` is set, and emits, atomically.
   * `totpLastStep` is kept: steps count time, not secrets, so the code that confirmed enrolment cannot
   * be replayed to sign in (RFC 6238 §5.2).
   * Returns the updated user, or `null` if there is none (or `confirmTotp` and no pending secret).
   */
  setRecoveryCodes(
    userId: string,
    codeHashes: readonly string[],
    options: { confirmTotp: boolean; atMs: number; emit?: EmitEvents<UserRecord> },
  ): Promise<UserRecord | null>;
  /** Marks one unused recovery code of the user used; true if it was there and unused (once, under concurrency). */
  useRecoveryCode(userId: string, codeHash: string, atMs: number): Promise<boolean>;
  /** How many unused recovery codes the user has. */
  countRecoveryCodes(userId: string): Promise<number>;

  /** Links an external identity to a user. `'taken'` (nothing written) when another user has it. */
  linkIdentity(
    userId: string,
    identity: IdentityKey,
    atMs: number,
  ): Promise<'linked' | 'already_linked' | 'taken'>;
  /** Removes the link; false if the user had no such identity. */
  unlinkIdentity(userId: string, identity: IdentityKey): Promise<boolean>;
  /** The user an identity is linked to, or `null`. */
  findUserByIdentity(identity: IdentityKey): Promise<UserRecord | null>;
  /** The user's identities, oldest first. */
  listIdentities(userId: string): Promise<IdentityRecord[]>;

  /**
   * Inserts a session (see {@link CreateSessionOptions}: a cap that evicts the oldest, the device
   * fingerprint, events). Returns the evicted sessions and whether the device was new for the user.
   */
  createSession(
    session: SessionRecord,
    options?: CreateSessionOptions,
  ): Promise<{ evicted: SessionRecord[]; newDevice: boolean }>;
  findSession(id: string): Promise<SessionRecord | null>;
  /**
   * Optional: the session and its user read together, `user` `null` when the user row is gone; `null`
   * when there is no such session. A read only, as `findSession` then `findUserById` would give, in
   * one round trip where the driver has round trips (PostgreSQL). The engine's refresh uses it when a
   * driver has it and falls back to the two reads otherwise; it carries no other meaning.
   */
  findSessionWithUser?(id: string): Promise<{ session: SessionRecord; user: UserRecord | null } | null>;
  /**
   * Compare-and-set rotation: if the session exists, is not revoked, its generation equals
   * `fromGeneration` (and, with `update.dpopJkt`, its `dpopJkt` is `null` or equal), sets generation to
   * `fromGeneration + 1`, `rotatedAtMs`/`lastSeenAtMs` to `update.nowMs`, the idle expiry, IP, user
   * agent and `dpopJkt`; returns the updated row. Otherwise changes nothing and returns `null`.
   */
  rotateSession(id: string, fromGeneration: number, update: RotationUpdate): Promise<SessionRecord | null>;
  /**
   * Optional: a refresh's read and rotation in one atomic step (one round trip where the driver has
   * round trips). Reads the session and its user and rotates exactly as `rotateSession` would (one
   * winner among concurrent calls, across processes) only if all of these hold: the generation is
   * `fromGeneration`, the session is not revoked and not bound to a DPoP key (`dpopJkt` `null`),
   * `update.nowMs` is before its idle expiry, its absolute expiry and, when `maxLoginAgeMs` > 0,
   * `authTimeMs + maxLoginAgeMs`, and the user exists and is neither `disabled` nor `reauthRequired`.
   * The rotation sets generation +1, `rotatedAtMs`/`lastSeenAtMs` to `nowMs`, the idle expiry to
   * `min(nowMs + idleTtlMs, absoluteExpiresAtMs)`, and the IP and user agent when given. Otherwise it
   * changes nothing and answers the row and user it read. `null` when there is no such session.
   */
  rotateSessionInOneStep?(
    id: string,
    fromGeneration: number,
    update: OneStepRotation,
  ): Promise<OneStepRotationResult | null>;
  /**
   * Records a new authentication in a live session (step-up, re-authentication): sets `authTimeMs`,
   * `amr` and `acr`. Returns the updated row, or `null` if the session is missing or revoked.
   */
  updateSessionAuth(
    id: string,
    auth: { authTimeMs: number; amr: string[]; acr: string | null },
  ): Promise<SessionRecord | null>;
  /** Revokes one session if it is not revoked yet; returns the revoked row, or `null` if nothing changed. */
  revokeSession(
    id: string,
    atMs: number,
    reason: RevokeReason,
    emit?: EmitEvents<SessionRecord>,
  ): Promise<SessionRecord | null>;
  /** Revokes every unrevoked session of a user except `exceptSessionId`; returns the rows it revoked. */
  revokeUserSessions(
    userId: string,
    atMs: number,
    reason: RevokeReason,
    options?: { exceptSessionId?: string; emit?: EmitEvents<SessionRecord[]> },
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
    emit?: EmitEvents<{ user: UserRecord; revoked: SessionRecord[] }>,
  ): Promise<{ user: UserRecord; revoked: SessionRecord[] } | null>;
  /** Atomically sets the global not-before instant and revokes every session (reason `emergency`). */
  emergencyRevokeAll(atMs: number): Promise<number>;
  /** The global not-before instant (ms), or `null` if none was ever set. */
  getGlobalNotBeforeMs(): Promise<number | null>;
  /**
   * Deletes at most `limit` rows (in total) that ended strictly before `beforeMs`: sessions revoked or
   * expired; one-time tokens used, voided by a newer one, or expired (whichever came first); outbox
   * events delivered (dead ones stay, for replay). Returns how many it deleted (less than `limit`
   * means nothing is left to sweep).
   */
  sweepSessions(beforeMs: number, limit: number): Promise<number>;
  /** Sessions revoked at or after `sinceMs` (for the revocation feed), at most `limit`, oldest first. */
  listRevokedSince(sinceMs: number, limit: number): Promise<SessionRecord[]>;
  /**
   * Users whose token version was bumped at or after `sinceMs` (for the revocation feed: a bumped
   * version must reach verifiers; a new user is not listed), at most `limit`, oldest change first.
   */
  listUsersUpdatedSince(
    sinceMs: number,
    limit: number,
  ): Promise<Array<{ id: string; tokenVersion: number; updatedAtMs: number }>>;

  /**
   * Stores a one-time token and, in the same transaction, voids every unused token of the same kind
   * for the same user (a newer one replaces the older) and writes `emit`'s events.
   */
  createOneTimeToken(record: OneTimeTokenRecord, emit?: EmitEvents<OneTimeTokenRecord>): Promise<void>;
  /**
   * Redeems a one-time token of `kind` by hash: if it exists, is unused, not voided and not expired at
   * `nowMs`, marks it used and applies `effect`, all in one transaction (of concurrent redemptions,
   * exactly one succeeds). See {@link RedeemResult}.
   */
  redeemOneTimeToken(
    tokenHash: string,
    kind: OneTimeTokenKind,
    nowMs: number,
    effect?: RedeemEffect,
  ): Promise<RedeemResult>;

  /** Appends events to the outbox (events not tied to another write). */
  appendOutbox(events: readonly OutboxEventInput[]): Promise<void>;
  /**
   * Claims up to `limit` pending events due at `nowMs` and not leased by another worker, leasing them
   * to `owner` until `nowMs + leaseMs`. Across processes and instances, one event is leased to one
   * owner at a time (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
   */
  claimOutbox(nowMs: number, limit: number, leaseMs: number, owner: string): Promise<OutboxRecord[]>;
  /**
   * Records an attempt by `owner`: delivered (`outcome.delivered`), retry at `nextAttemptAtMs`, or dead
   * (`nextAttemptAtMs: null`, after the last retry). Ignored if the lease passed to another owner.
   */
  finishOutboxAttempt(
    id: string,
    owner: string,
    outcome:
      | { delivered: true; atMs: number }
      | { delivered: false; atMs: number; nextAttemptAtMs: number | null; error: string },
  ): Promise<void>;
  /** Events in `state`, newest first, at most `limit`. */
  listOutbox(state: OutboxState, limit: number): Promise<OutboxRecord[]>;
  /** Makes a dead (or delivered) event pending again, due at `nowMs`, attempts reset. False if none. */
  replayOutbox(id: string, nowMs: number): Promise<boolean>;

  /** Every stored signing key, newest first. */
  listSigningKeys(): Promise<SigningKeyRecord[]>;
  /** Inserts `key` and marks every other unretired key retired at `key.createdAtMs`, atomically. */
  addSigningKey(key: SigningKeyRecord): Promise<void>;
  deleteSigningKey(kid: string): Promise<void>;

  /**
   * Resolves when the database answers; throws {@link StoreUnavailableError} otherwise. With
   * `write: true` it also proves a durable write commits now (a heartbeat row), throwing
   * {@link StorageFullError} when the disk is full.
   */
  ping(options?: { write?: boolean }): Promise<void>;
  /** Releases connections and file handles. */
  close(): Promise<void>;
}
