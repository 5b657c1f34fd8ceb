import type { SQLOutputValue } from 'node:sqlite';
import type {
  IdentityRecord,
  OneTimeTokenKind,
  OneTimeTokenRecord,
  OutboxRecord,
  OutboxState,
  RevokeReason,
  SessionRecord,
  SigningKeyRecord,
  UserRecord,
} from './store.ts';

/** A row as node:sqlite returns it. */
export type Row = Record<string, SQLOutputValue>;

const text = (value: SQLOutputValue | undefined): string | null => (typeof value === 'string' ? value : null);
/** An INTEGER column that may be NULL. */
export const int = (value: SQLOutputValue | undefined): number | null =>
  typeof value === 'number' ? value : null;

/** A `users` row as a record. */
export function toUser(row: Row): UserRecord {
  return {
    id: row.id as string,
    email: text(row.email),
    emailVerified: row.email_verified === 1,
    passwordHash: text(row.password_hash),
    tokenVersion: row.token_version as number,
    tokenVersionChangedAtMs: int(row.token_version_changed_at),
    roles: JSON.parse(row.roles as string) as string[],
    profile: JSON.parse(row.profile as string) as Record<string, string | null>,
    disabled: row.disabled === 1,
    reauthRequired: row.reauth_required === 1,
    totpSecret: text(row.totp_secret),
    totpPendingSecret: text(row.totp_pending_secret),
    totpLastStep: int(row.totp_last_step),
    createdAtMs: row.created_at as number,
    updatedAtMs: row.updated_at as number,
  };
}

/** A `sessions` row as a record. */
export function toSession(row: Row): SessionRecord {
  return {
    id: row.id as string,
    userId: row.user_id as string,
    createdAtMs: row.created_at as number,
    authTimeMs: row.auth_time as number,
    lastSeenAtMs: row.last_seen_at as number,
    idleExpiresAtMs: row.idle_expires_at as number,
    absoluteExpiresAtMs: row.absolute_expires_at as number,
    ip: text(row.ip),
    userAgent: text(row.user_agent),
    deviceName: text(row.device_name),
    amr: JSON.parse(row.amr as string) as string[],
    acr: text(row.acr),
    dpopJkt: text(row.dpop_jkt),
    generation: row.generation as number,
    rotatedAtMs: row.rotated_at as number,
    salt: row.salt as string,
    revokedAtMs: int(row.revoked_at),
    revokeReason: text(row.revoke_reason) as RevokeReason | null,
  };
}

/** A `signing_keys` row as a record. */
export function toKey(row: Row): SigningKeyRecord {
  return {
    kid: row.kid as string,
    alg: row.alg as string,
    publicJwk: row.public_jwk as string,
    privateJwkEncrypted: row.private_jwk_encrypted as string,
    createdAtMs: row.created_at as number,
    retiredAtMs: int(row.retired_at),
  };
}

/** An `identities` row as a record. */
export function toIdentity(row: Row): IdentityRecord {
  return {
    issuer: row.issuer as string,
    subject: row.subject as string,
    userId: row.user_id as string,
    createdAtMs: row.created_at as number,
  };
}

/** A `one_time_tokens` row as a record (whether it was voided is the store's business). */
export function toToken(row: Row): OneTimeTokenRecord {
  return {
    tokenHash: row.token_hash as string,
    kind: row.kind as OneTimeTokenKind,
    userId: row.user_id as string,
    email: row.email as string,
    createdAtMs: row.created_at as number,
    expiresAtMs: row.expires_at as number,
    usedAtMs: int(row.used_at),
  };
}

/** An `outbox` row as a record (the lease is the store's business). */
export function toOutbox(row: Row): OutboxRecord {
  return {
    id: row.id as string,
    type: row.type as string,
    data: JSON.parse(row.data as string) as Record<string, unknown>,
    createdAtMs: row.created_at as number,
    state: row.state as OutboxState,
    attempts: row.attempts as number,
    nextAttemptAtMs: row.next_attempt_at as number,
    deliveredAtMs: int(row.delivered_at),
    lastError: text(row.last_error),
  };
}
