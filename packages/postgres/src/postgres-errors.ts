import { StorageFullError, StoreUnavailableError } from '@tessera/core';

const DISK_FULL = '53100';
// The "try again later" class: the connection (class 08, admin shutdown 57P0x), the server short of
// resources (class 53), a cancelled statement (57014, statement_timeout), and transactions PostgreSQL
// aborted to resolve a conflict (40001 serialization failure, 40P01 deadlock).
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01',
  '57P02',
  '57P03',
  '57014',
  '40001',
  '40P01',
]);

function isUnavailable(error: unknown): boolean {
  const e = error as { code?: string; message?: string } | null;
  const code = e?.code;
  if (code && (UNAVAILABLE_CODES.has(code) || code.startsWith('08') || code.startsWith('53'))) return true;
  // `Query read timeout` is node-postgres's own `query_timeout`: the server did not answer in time.
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout/i.test(
    e?.message ?? '',
  );
}

/**
 * Maps a PostgreSQL or connection error to {@link StorageFullError} (53100 disk_full: nothing was
 * written) or {@link StoreUnavailableError} (try later); anything else passes unchanged.
 */
export function toStoreError(error: unknown): unknown {
  if ((error as { code?: unknown } | null)?.code === DISK_FULL) return new StorageFullError(error);
  return isUnavailable(error) ? new StoreUnavailableError(error) : error;
}

/** True for a unique violation of the users' email (another user took the address). */
export function isEmailTaken(error: unknown): boolean {
  const e = error as { code?: unknown; constraint?: unknown } | null;
  return e?.code === '23505' && e.constraint === 'users_email_key';
}
