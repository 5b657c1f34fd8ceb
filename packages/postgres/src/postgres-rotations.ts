import type { OneStepRotationResult } from '@tessera/core';
import { StoreUnavailableError } from '@tessera/core';
import type { Deadline, Queryable } from './call-deadline.ts';
import type { PostgresContext } from './postgres-context.ts';
import { type Row, toSession, toUser } from './postgres-rows.ts';
import type { RotationCall } from './rotation-batch.ts';

const DEADLOCK = '40P01';

/** One call by the single-session statement (it locks one row, so it needs no lock order). */
async function rotateOne(
  ctx: PostgresContext,
  db: Queryable,
  { id, fromGeneration, update }: RotationCall,
): Promise<OneStepRotationResult | null> {
  const { rows } = await db.query({
    ...ctx.statements.rotateSessionInOneStep,
    values: [
      id,
      fromGeneration,
      update.nowMs,
      update.idleTtlMs,
      update.maxLoginAgeMs,
      update.ip,
      update.userAgent,
    ],
  });
  const row = rows[0];
  if (!row) return null;
  const user = row.user ? toUser(row.user) : null;
  return row.rotated
    ? { rotated: true, session: toSession(row.rotated), user }
    : { rotated: false, session: toSession(row.session), user };
}

function toResult(row: Row | undefined): OneStepRotationResult | null {
  if (!row?.session) return null;
  const user = row.user ? toUser(row.user as Row) : null;
  return { rotated: row.rotated === true, session: toSession(row.session as Row), user };
}

/**
 * Sends one batch of one-step rotations by `deadline`: a batch of one as the single-session
 * statement, a larger one as the batch statement, one round trip either way. Errors are mapped
 * ({@link StoreUnavailableError}, `StorageFullError`) as every store call's are.
 */
export function postgresRotationSender(
  ctx: PostgresContext,
): (calls: readonly RotationCall[], deadline: Deadline) => Promise<Array<OneStepRotationResult | null>> {
  return (calls, deadline) =>
    ctx.run(async (db) => {
      if (calls.length === 1) return [await rotateOne(ctx, db, calls[0] as RotationCall)];
      const { rows } = await db.query({
        ...ctx.statements.rotateSessionsInOneStep,
        values: [
          calls.map((c) => c.id),
          calls.map((c) => c.fromGeneration),
          calls.map((c) => c.update.nowMs),
          calls.map((c) => c.update.idleTtlMs),
          calls.map((c) => c.update.maxLoginAgeMs),
          calls.map((c) => c.update.ip),
          calls.map((c) => c.update.userAgent),
        ],
      });
      return rows.map((row) => toResult(row));
    }, deadline);
}

/**
 * True for a batch PostgreSQL aborted as a deadlock victim. Batches and this store's other multi-row
 * session writers (revoking a user's sessions, an eviction, the sweeper, an emergency revocation) all
 * lock in id order and cannot deadlock each other, but a writer that does not (an instance of an older
 * version during a rolling upgrade, an operator's SQL) can; alone, each call locks one row and cannot
 * take part in a deadlock, so the batcher sends them again one by one.
 */
export function isDeadlock(error: unknown): boolean {
  return (
    error instanceof StoreUnavailableError && (error.cause as { code?: unknown } | null)?.code === DEADLOCK
  );
}
