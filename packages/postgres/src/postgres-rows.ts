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
} from '@tessera/core';
import pg from 'pg';

/** How the store's pools read values: int8 columns hold epoch milliseconds, well inside 2^53, so numbers. */
export const PG_TYPES: { getTypeParser: typeof pg.types.getTypeParser } = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** A row as `pg` returns it (int8 read as numbers, jsonb parsed). */
export type Row = Record<string, unknown>;

const nullable = <T>(value: unknown): T | null => (value ?? null) as T | null;

/** A `users` row as a record. */
export function toUser(row: Row): UserRecord {
  return {
    id: row.id as string,
    email: nullable(row.email),
    emailVerified: row.email_verified === true,
    passwordHash: nullable(row.password_hash),
    tokenVersion: row.token_version as number,
    tokenVersionChangedAtMs: nullable(row.token_version_changed_at),
    roles: row.roles as string[],
    profile: row.profile as Record<string, string | null>,
    disabled: row.disabled as boolean,
    reauthRequired: row.reauth_required as boolean,
    totpSecret: nullable(row.totp_secret),
    totpPendingSecret: nullable(row.totp_pending_secret),
    totpLastStep: nullable(row.totp_last_step),
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
    ip: nullable(row.ip),
    userAgent: nullable(row.user_agent),
    deviceName: nullable(row.device_name),
    amr: row.amr as string[],
    acr: nullable(row.acr),
    dpopJkt: nullable(row.dpop_jkt),
    generation: row.generation as number,
    rotatedAtMs: row.rotated_at as number,
    salt: row.salt as string,
    revokedAtMs: nullable(row.revoked_at),
    revokeReason: nullable<RevokeReason>(row.revoke_reason),
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
    retiredAtMs: nullable(row.retired_at),
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

/** A `one_time_tokens` row as a record. */
export function toToken(row: Row): OneTimeTokenRecord {
  return {
    tokenHash: row.token_hash as string,
    kind: row.kind as OneTimeTokenKind,
    userId: row.user_id as string,
    email: row.email as string,
    createdAtMs: row.created_at as number,
    expiresAtMs: row.expires_at as number,
    usedAtMs: nullable(row.used_at),
  };
}

/** An `outbox` row as a record. */
export function toOutbox(row: Row): OutboxRecord {
  return {
    id: row.id as string,
    type: row.type as string,
    data: JSON.parse(row.data as string) as Record<string, unknown>,
    createdAtMs: row.created_at as number,
    state: row.state as OutboxState,
    attempts: row.attempts as number,
    nextAttemptAtMs: row.next_attempt_at as number,
    deliveredAtMs: nullable(row.delivered_at),
    lastError: nullable(row.last_error),
  };
}

/** Code-unit order of ids, as SQLite and the memory store sort them. */
export const byId = (a: { id: string }, b: { id: string }): number =>
  a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
