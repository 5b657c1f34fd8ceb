import type { DatabaseSync } from 'node:sqlite';
import { StorageFullError, StoreUnavailableError } from '../errors.ts';
import { toSession, toUser } from './sqlite-rows.ts';
import type { Statements } from './sqlite-statements.ts';
import type { OutboxEventInput, RevokeReason, SessionRecord, UserPatch, UserRecord } from './store.ts';

const SQLITE_FULL = 13;
// SQLITE_BUSY, LOCKED, READONLY, IOERR, CANTOPEN, PROTOCOL: the file is held, gone or failing, so
// the caller should try again later. Constraint and schema errors are bugs and stay as they are.
const UNAVAILABLE = new Set([5, 6, 8, 10, 14, 15]);

/** Maps a SQLite error to {@link StorageFullError} or {@link StoreUnavailableError}; others pass. */
export function toStoreError(error: unknown): unknown {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  if (typeof code !== 'number') return error;
  if ((code & 0xff) === SQLITE_FULL) return new StorageFullError(error);
  return UNAVAILABLE.has(code & 0xff) ? new StoreUnavailableError(error) : error;
}

/**
 * Runs `work` inside `BEGIN IMMEDIATE` … `COMMIT`: the write lock is taken first, so no other writer
 * (in this process or another) interleaves, and the `COMMIT`'s own error (a full disk, an I/O error)
 * propagates, so nothing is reported done that was not committed.
 */
export function inTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    // SQLite rolls back by itself after some errors (SQLITE_FULL on COMMIT among them), and then this
    // ROLLBACK fails: the original error says more. (Not `db.isTransaction`: Node has it from 22.16.)
    try {
      db.exec('ROLLBACK');
    } catch {
      // Already rolled back.
    }
    throw error;
  }
}

/** What the SQLite store's method groups share: statements, read and write runners, multi-row helpers. */
export interface SqliteContext {
  readonly s: Statements;
  /** Runs a read; SQLite errors become store errors. Rejects once the store is closed. */
  read<T>(work: () => T): Promise<T>;
  /** Runs `work` in one transaction (see {@link inTransaction}); resolves only after its commit. */
  write<T>(work: () => T): Promise<T>;
  /** Inserts a session (inside a write), first evicting the user's oldest live ones over `maxPerUser`. */
  insertSession(
    session: SessionRecord,
    options: { maxPerUser?: number; deviceFingerprint?: string | undefined },
  ): { evicted: SessionRecord[]; newDevice: boolean };
  /** Applies a patch (inside a write); `'email_taken'` (nothing changed) when the email is another user's. */
  patchUser(id: string, patch: UserPatch): UserRecord | null | 'email_taken';
  /** Revokes every unrevoked session of the user but one (inside a write), oldest first. */
  revokeUserSessions(
    userId: string,
    atMs: number,
    reason: RevokeReason,
    except: string | null,
  ): SessionRecord[];
  /** Appends outbox events (inside a write). */
  appendEvents(events: readonly OutboxEventInput[]): void;
  /** Reads a session and its user (`null` when the user row is gone); `null` for no such session. */
  sessionWithUser(id: string): { session: SessionRecord; user: UserRecord | null } | null;
}

const byAgeThenId = (a: SessionRecord, b: SessionRecord): number =>
  a.createdAtMs - b.createdAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const flag = (value: boolean | undefined): number | null => (value === undefined ? null : value ? 1 : 0);

/** Builds the {@link SqliteContext} of an open database; `isOpen` turns every call away after close. */
export function createSqliteContext(db: DatabaseSync, s: Statements, isOpen: () => boolean): SqliteContext {
  const run = <T>(work: () => T): Promise<T> => {
    if (!isOpen()) return Promise.reject(new StoreUnavailableError(new Error('The SQLite store is closed.')));
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(toStoreError(error));
    }
  };
  const rememberDevice = (userId: string, fingerprint: string | undefined, atMs: number): boolean =>
    fingerprint !== undefined && Number(s.insertDevice.run(userId, fingerprint, atMs).changes) === 1;

  return {
    s,
    read: run,
    write: (work) => run(() => inTransaction(db, work)),
    insertSession(session, options) {
      const evicted: SessionRecord[] = [];
      const maxPerUser = options.maxPerUser ?? 0;
      if (maxPerUser > 0) {
        const live = s.liveSessions.all({ user: session.userId, now: session.createdAtMs });
        for (const row of live.slice(0, Math.max(0, live.length - maxPerUser + 1))) {
          const [revoked] = s.revokeOne.all({
            id: row.id as string,
            at: session.createdAtMs,
            reason: 'evicted',
          });
          if (revoked) evicted.push(toSession(revoked));
        }
      }
      s.insertSession.run(
        session.id,
        session.userId,
        session.createdAtMs,
        session.authTimeMs,
        session.lastSeenAtMs,
        session.idleExpiresAtMs,
        session.absoluteExpiresAtMs,
        session.ip,
        session.userAgent,
        session.deviceName,
        JSON.stringify(session.amr),
        session.acr,
        session.dpopJkt,
        session.generation,
        session.rotatedAtMs,
        session.salt,
        session.revokedAtMs,
        session.revokeReason,
      );
      return {
        evicted,
        newDevice: rememberDevice(session.userId, options.deviceFingerprint, session.createdAtMs),
      };
    },
    patchUser(id, patch) {
      // Inside BEGIN IMMEDIATE no other writer runs, so the check cannot go stale before the update.
      if (patch.email !== undefined && patch.email !== null) {
        const owner = s.userByEmail.get(patch.email);
        if (owner && owner.id !== id) return s.userById.get(id) ? 'email_taken' : null;
      }
      const [row] = s.updateUser.all({
        id,
        setEmail: patch.email === undefined ? 0 : 1,
        email: patch.email ?? null,
        emailVerified: flag(patch.emailVerified),
        setPasswordHash: patch.passwordHash === undefined ? 0 : 1,
        passwordHash: patch.passwordHash ?? null,
        roles: patch.roles ? JSON.stringify(patch.roles) : null,
        profile: JSON.stringify(patch.profile ?? {}),
        disabled: flag(patch.disabled),
        reauthRequired: flag(patch.reauthRequired),
        setTotp: patch.totpSecret === undefined ? 0 : 1,
        totpSecret: patch.totpSecret ?? null,
        setTotpPending: patch.totpPendingSecret === undefined ? 0 : 1,
        totpPendingSecret: patch.totpPendingSecret ?? null,
        bump: patch.bumpTokenVersion ? 1 : 0,
        updatedAt: patch.updatedAtMs,
      });
      return row ? toUser(row) : null;
    },
    revokeUserSessions(userId, atMs, reason, except) {
      return s.revokeUser.all({ user: userId, except, at: atMs, reason }).map(toSession).sort(byAgeThenId);
    },
    sessionWithUser(id) {
      const row = s.sessionById.get(id);
      if (!row) return null;
      const user = s.userById.get(row.user_id as string);
      return { session: toSession(row), user: user ? toUser(user) : null };
    },
    appendEvents(events) {
      for (const event of events) {
        s.insertEvent.run(
          event.id,
          event.type,
          JSON.stringify(event.data),
          event.createdAtMs,
          event.createdAtMs,
        );
      }
    },
  };
}
