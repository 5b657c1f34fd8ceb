export { MIGRATIONS } from './migrations.ts';
export type { MigrationClient, PostgresStoreOptions } from './postgres-store.ts';
export { createPostgresStore, migratePostgres } from './postgres-store.ts';
