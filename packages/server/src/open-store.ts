import { createSqliteStore, type Store } from '@tessera/core';

/**
 * Opens the store `databaseUrl` names: `sqlite:<path>` (the embedded default) or
 * `postgres://…` (PostgreSQL; an optional `?schema=name` query picks the schema, default `tessera`).
 * Opening applies pending schema migrations.
 */
export async function openStore(databaseUrl: string): Promise<Store> {
  if (databaseUrl.startsWith('sqlite:')) {
    return createSqliteStore({ path: databaseUrl.slice('sqlite:'.length) });
  }
  const url = new URL(databaseUrl);
  const schema = url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  const { createPostgresStore } = await import('@tessera/postgres');
  return createPostgresStore({ connectionString: url.toString(), ...(schema ? { schema } : {}) });
}
