import { randomBytes } from 'node:crypto';
import pg from 'pg';

const SHARED_POSTGRES = 'postgres://postgres@127.0.0.1:5432/test';

/** A schema of the test's own on the shared PostgreSQL (127.0.0.1:5432, which is never stopped). */
export interface SharedSchema {
  /** A `TESSERA_DATABASE_URL` naming the schema (Tessera creates it at start). */
  url: string;
  /** Drops the schema and everything in it. */
  drop(): Promise<void>;
}

/** Names a fresh schema on the shared PostgreSQL. */
export function sharedSchema(prefix: string): SharedSchema {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  return {
    url: `${SHARED_POSTGRES}?schema=${schema}`,
    async drop() {
      const client = new pg.Client({ connectionString: SHARED_POSTGRES, connectionTimeoutMillis: 5000 });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}
