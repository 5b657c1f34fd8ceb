import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { StoreUnavailableError } from '../errors.ts';
import { createSqliteContext, inTransaction, toStoreError } from './sqlite-context.ts';
import { migrate } from './sqlite-migrations.ts';
import { sqliteOutboxMethods } from './sqlite-outbox.ts';
import { toSession, toUser } from './sqlite-rows.ts';
import { sqliteSessionMethods } from './sqlite-sessions.ts';
import { prepareStatements, type Statements } from './sqlite-statements.ts';
import { sqliteUserMethods } from './sqlite-users.ts';
import type { Store } from './store.ts';

export { SQLITE_SCHEMA_VERSION } from './sqlite-migrations.ts';

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** The database file (created with its directory if missing), or `:memory:`. */
  path: string;
  /** How long a writer waits for another process's lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number;
}

const SLEEPER = new Int32Array(new SharedArrayBuffer(4));

/**
 * Retries `work` while SQLite answers SQLITE_BUSY, for at most `timeoutMs`. Needed at open only:
 * switching a new file to WAL, or reading one while another process recovers its WAL, returns
 * BUSY at once without calling the busy handler, so processes starting together would fail.
 */
function retryWhileBusy<T>(timeoutMs: number, work: () => T): T {
  const deadline = performance.now() + timeoutMs;
  for (let delayMs = 1; ; delayMs = Math.min(delayMs * 2, 50)) {
    try {
      return work();
    } catch (error) {
      const code = (error as { errcode?: unknown } | null)?.errcode;
      if (typeof code !== 'number' || (code & 0xff) !== 5 || performance.now() >= deadline) throw error;
      // createSqliteStore is synchronous, so the wait blocks; it happens only while opening.
      Atomics.wait(SLEEPER, 0, 0, delayMs);
    }
  }
}

const closedError = (): StoreUnavailableError =>
  new StoreUnavailableError(new Error('The SQLite store is closed.'));

/**
 * Creates the embedded {@link Store} over a SQLite file with Node's built-in `node:sqlite`: WAL
 * journal, `synchronous=FULL` (an acknowledged write survives a killed process and a power loss),
 * a busy timeout so several processes can share the file, foreign keys on, and versioned
 * migrations applied under the write lock. Every write runs in `BEGIN IMMEDIATE` … `COMMIT` and
 * resolves only once its commit succeeded; a full disk rejects with {@link StorageFullError} and
 * changes nothing. Rotation is one conditional `UPDATE … RETURNING`, so its compare-and-set holds
 * across processes; rotations arriving in one event-loop turn share a commit, and so do one-step
 * refreshes (`rotateSessionInOneStep`: the guarded rotation and the user's row, two statements). Throws
 * {@link StoreUnavailableError} when the file cannot be opened or stays locked past `busyTimeoutMs`
 * (default 5000 ms).
 * @example
 * const store = createSqliteStore({ path: './.tessera/tessera.db' });
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const inMemory = options.path === ':memory:';
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let db: DatabaseSync;
  let s: Statements;
  try {
    if (!inMemory) mkdirSync(dirname(options.path), { recursive: true });
    db = new DatabaseSync(options.path);
    // The pragma rather than the constructor's `timeout` option, which Node has only from 22.16.
    db.exec(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  } catch (error) {
    throw toStoreError(error);
  }
  try {
    retryWhileBusy(busyTimeoutMs, () => {
      db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
      migrate(db);
    });
    s = prepareStatements(db);
  } catch (error) {
    db.close();
    throw toStoreError(error);
  }
  let open = true;
  const ctx = createSqliteContext(db, s, () => open);

  interface PendingWrite {
    work: () => unknown;
    resolve: (value: never) => void;
    reject: (error: unknown) => void;
  }
  let pending: PendingWrite[] = [];
  // Group commit: rotations arriving in one event-loop turn share one transaction, so one fsync
  // acknowledges them all; nobody is answered before that commit is durable, and a failed commit
  // rejects every one of them. Each is still its own compare-and-set, run in arrival order, so a
  // second rotation of one session sees the first.
  const flushRotations = (): void => {
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    let results: unknown[];
    try {
      results = inTransaction(db, () => batch.map((item) => item.work()));
    } catch (error) {
      const failure = toStoreError(error);
      for (const item of batch) item.reject(failure);
      return;
    }
    for (const [i, item] of batch.entries()) item.resolve(results[i] as never);
  };
  /** Queues `work` for the next group commit; resolves with its result once that commit is durable. */
  const inGroupCommit = <T>(work: () => T): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!open) {
        reject(closedError());
        return;
      }
      pending.push({ work, resolve: resolve as (value: never) => void, reject });
      if (pending.length === 1) setImmediate(flushRotations);
    });

  return {
    capabilities: { durable: !inMemory, multiProcess: !inMemory },
    ...sqliteUserMethods(ctx),
    ...sqliteSessionMethods(ctx),
    ...sqliteOutboxMethods(ctx),
    rotateSession: (id, fromGeneration, update) =>
      inGroupCommit(() => {
        const [row] = s.rotate.all({
          id,
          from: fromGeneration,
          now: update.nowMs,
          idle: update.idleExpiresAtMs,
          ip: update.ip,
          userAgent: update.userAgent,
          jkt: update.dpopJkt ?? null,
        });
        return row ? toSession(row) : null;
      }),
    // Two statements in the group commit instead of a read and then a write: the rotation first, and
    // the row and user read in the same transaction only when it did not rotate.
    rotateSessionInOneStep: (id, fromGeneration, update) =>
      inGroupCommit(() => {
        const [row] = s.rotateInOneStep.all({
          id,
          from: fromGeneration,
          now: update.nowMs,
          idleTtl: update.idleTtlMs,
          maxLoginAge: update.maxLoginAgeMs,
          ip: update.ip,
          userAgent: update.userAgent,
        });
        if (!row) {
          const found = ctx.sessionWithUser(id);
          return found && { rotated: false, ...found };
        }
        const user = s.userById.get(row.user_id as string);
        return { rotated: true, session: toSession(row), user: user ? toUser(user) : null };
      }),
    ping: (options = {}) =>
      options.write
        ? ctx.write(() => {
            s.heartbeat.run();
          })
        : ctx.read(() => {
            s.ping.get();
          }),
    async close() {
      if (!open) return;
      // Rotations already accepted are committed and answered (or rejected), not dropped.
      flushRotations();
      open = false;
      try {
        db.close();
      } catch (error) {
        throw toStoreError(error);
      }
    },
  };
}
