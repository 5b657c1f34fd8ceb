import { createSqliteStore, type Store } from '@tessera/core';

/**
 * Opens the store `databaseUrl` names: `sqlite:<path>` (the embedded default) or `postgres://…`.
 * Throws with a clear message for a driver that is not installed.
 */
export async function openStore(databaseUrl: string): Promise<Store> {
  if (databaseUrl.startsWith('sqlite:')) {
    return createSqliteStore({ path: databaseUrl.slice('sqlite:'.length) });
  }
  throw new Error(
    'TESSERA_DATABASE_URL: PostgreSQL needs the @tessera/postgres driver, which this version does not include yet.',
  );
}
