import { dirname, resolve } from 'node:path';
import { createSqliteStore, type RateLimiter, type RevocationBus, type Store } from '@tessera/core';
import { importOptionalPeer } from './optional-peer.ts';
import { describeFileError, errorCode, StartupError } from './startup-error.ts';

/** Options of {@link openStore}. */
export interface OpenStoreOptions {
  /** `TESSERA_DATA_DIR`, so an error about the default database file names that setting too. */
  dataDir?: string;
}

/**
 * Opens the store `databaseUrl` names: `sqlite:<path>` (the embedded default) or
 * `postgres://…` (PostgreSQL; query parameters {@link postgresUrlOptions} reads pick the schema,
 * default `tessera`, and size the pool and the refresh batches).
 * `@tessera/postgres` is an optional peer loaded only then; without it this throws an error naming
 * `TESSERA_DATABASE_URL` and the package. Opening applies pending schema migrations. Throws a
 * {@link StartupError} naming `TESSERA_DATABASE_URL` (or `TESSERA_DATA_DIR`) and the path or host,
 * never a password, when the file is not a database, its directory cannot be made, or PostgreSQL
 * cannot be reached or refuses the login.
 */
export async function openStore(databaseUrl: string, options: OpenStoreOptions = {}): Promise<Store> {
  if (databaseUrl.startsWith('sqlite:')) return openSqlite(databaseUrl.slice('sqlite:'.length), options);
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch (cause) {
    // The text may hold a password: never repeat it.
    throw new StartupError('TESSERA_DATABASE_URL', 'is not a valid postgres:// URL.', 'config', { cause });
  }
  const storeOptions = postgresUrlOptions(url);
  const { createPostgresStore } = await importOptionalPeer(
    '@tessera/postgres',
    'TESSERA_DATABASE_URL',
    () => import('@tessera/postgres'),
  );
  try {
    return await createPostgresStore({ connectionString: url.toString(), ...storeOptions });
  } catch (error) {
    throw postgresStartupError(url, error);
  }
}

/** The PostgreSQL store's options a `postgres://` URL may set as query parameters, by parameter. */
const POSTGRES_URL_NUMBERS = {
  max_connections: 'maxConnections',
  query_timeout_ms: 'queryTimeoutMs',
  rotation_batch_size: 'rotationBatchSize',
  rotation_batches_in_flight: 'rotationBatchesInFlight',
} as const;

/** The store options a {@link POSTGRES_URL_NUMBERS} parameter or `schema` sets. */
export interface PostgresUrlOptions {
  schema?: string;
  maxConnections?: number;
  queryTimeoutMs?: number;
  rotationBatchSize?: number;
  rotationBatchesInFlight?: number;
}

/**
 * Takes Tessera's own query parameters out of a `postgres://` URL (`schema`, `max_connections`,
 * `query_timeout_ms`, `rotation_batch_size`, `rotation_batches_in_flight`) and returns them as
 * `createPostgresStore` options; the rest of the URL (`sslmode`, `application_name`…) is the
 * driver's. Throws a
 * {@link StartupError} naming `TESSERA_DATABASE_URL` and the parameter when a number is not a
 * positive whole number.
 * @example
 * postgresUrlOptions(new URL('postgres://db/tessera?schema=auth&max_connections=20'));
 * // { schema: 'auth', maxConnections: 20 }, the URL now postgres://db/tessera
 */
export function postgresUrlOptions(url: URL): PostgresUrlOptions {
  const options: PostgresUrlOptions = {};
  const schema = url.searchParams.get('schema');
  if (schema) options.schema = schema;
  url.searchParams.delete('schema');
  for (const [parameter, option] of Object.entries(POSTGRES_URL_NUMBERS)) {
    const value = url.searchParams.get(parameter);
    url.searchParams.delete(parameter);
    if (value === null) continue;
    if (!/^[1-9][0-9]{0,8}$/.test(value)) {
      throw new StartupError(
        'TESSERA_DATABASE_URL',
        `?${parameter}= must be a positive whole number (got "${value.slice(0, 20)}").`,
        'config',
      );
    }
    options[option] = Number(value);
  }
  return options;
}

function openSqlite(path: string, options: OpenStoreOptions): Store {
  const byDefault = options.dataDir !== undefined && resolve(path) === resolve(options.dataDir, 'tessera.db');
  const setting = byDefault ? 'TESSERA_DATA_DIR' : 'TESSERA_DATABASE_URL';
  try {
    return createSqliteStore({ path });
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause ?? error;
    const fileProblem = describeFileError(cause);
    if (fileProblem !== undefined && (cause as { syscall?: string }).syscall === 'mkdir') {
      throw new StartupError(
        setting,
        `cannot create the directory ${dirname(path)} for the database: ${fileProblem}. ` +
          (byDefault
            ? 'Set TESSERA_DATA_DIR to a directory Tessera may create and write.'
            : 'Point TESSERA_DATABASE_URL at a file (sqlite:<path>) in a directory Tessera may create and write.'),
        'config',
        { cause: error },
      );
    }
    const sqliteCode = (cause as { errcode?: unknown }).errcode;
    if (typeof sqliteCode === 'number' && (sqliteCode & 0xff) === 26) {
      throw new StartupError(
        setting,
        `${path} is not an SQLite database (file is not a database). ` +
          `Point ${byDefault ? 'TESSERA_DATA_DIR at the directory of your Tessera data' : 'TESSERA_DATABASE_URL at your Tessera database (sqlite:<path>)'}, ` +
          'or move that file away to start with an empty database.',
        'config',
        { cause: error },
      );
    }
    if (typeof sqliteCode === 'number' && [8, 14].includes(sqliteCode & 0xff)) {
      throw new StartupError(
        setting,
        `cannot open ${path} for writing (${(cause as Error).message}). ` +
          'Check that the file and its directory exist and that this user may write both.',
        'config',
        { cause: error },
      );
    }
    throw error;
  }
}

const POSTGRES_SERVER_ERRORS: Readonly<Record<string, (target: Target) => string>> = {
  '28P01': (t) =>
    `PostgreSQL at ${t.host} refused the password of user "${t.user}". Check the user and password in the URL.`,
  '28000': (t) =>
    `PostgreSQL at ${t.host} does not let user "${t.user}" connect (pg_hba.conf). Check the user, and the server's pg_hba.conf for this client.`,
  '3D000': (t) =>
    `PostgreSQL at ${t.host} has no database "${t.database}". Create it, or fix the database name in the URL.`,
  '42501': (t) =>
    `user "${t.user}" may not create Tessera's schema in database "${t.database}" at ${t.host}. Grant it CREATE on the database, or pick a schema it owns with ?schema=name.`,
  '57P03': (t) => `PostgreSQL at ${t.host} is starting up or shutting down. Try again shortly.`,
  '53300': (t) =>
    `PostgreSQL at ${t.host} has no free connections. Raise max_connections, or close other clients.`,
};

const NETWORK_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED:
    'the connection was refused: is PostgreSQL running there, and listening on that address and port?',
  ENOTFOUND: 'the host name does not resolve: check the host in the URL.',
  EAI_AGAIN: 'the host name could not be resolved right now: check DNS, and the host in the URL.',
  ETIMEDOUT: 'the connection timed out: check the host, the port and any firewall between.',
  EHOSTUNREACH: 'the host is unreachable: check the host in the URL and the network.',
  ENETUNREACH: 'the network is unreachable: check the host in the URL and the network.',
  ECONNRESET:
    'the server closed the connection: check that it is PostgreSQL, and its TLS settings (?sslmode=).',
};

interface Target {
  host: string;
  user: string;
  database: string;
}

/** The error to show for a PostgreSQL store that could not open: the host, user and database, never the password. */
function postgresStartupError(url: URL, error: unknown): StartupError {
  const target: Target = {
    host: `${url.hostname || 'localhost'}:${url.port || '5432'}`,
    user: decodeURIComponent(url.username) || '(default user)',
    database: decodeURIComponent(url.pathname.slice(1)) || '(default database)',
  };
  const cause = (error as { cause?: unknown }).cause ?? error;
  const code = errorCode(cause);
  const server = code === undefined ? undefined : POSTGRES_SERVER_ERRORS[code];
  if (server !== undefined) {
    return new StartupError(
      'TESSERA_DATABASE_URL',
      server(target),
      code === '57P03' || code === '53300' ? 'unavailable' : 'config',
      {
        cause: error,
      },
    );
  }
  const network = code === undefined ? undefined : NETWORK_ERRORS[code];
  const timedOut = /timeout/i.test(String((cause as Error)?.message ?? ''));
  const reason = network ?? (timedOut ? NETWORK_ERRORS.ETIMEDOUT : undefined);
  const detail =
    reason !== undefined
      ? `${reason} (${code ?? 'timeout'})`
      : `${scrub(String((cause as Error)?.message ?? 'unknown error'), url)}. Check the URL, and that the server is PostgreSQL and answers.`;
  return new StartupError(
    'TESSERA_DATABASE_URL',
    `cannot connect to PostgreSQL at ${target.host} (database "${target.database}", user "${target.user}"): ${detail}`,
    'unavailable',
    { cause: error },
  );
}

/** Removes the URL's password from a driver message, in case a driver ever repeats it. */
function scrub(text: string, url: URL): string {
  const password = decodeURIComponent(url.password);
  return password ? text.split(password).join('***') : text;
}

/** The Redis-backed revocation bus and rate limiter of a cluster, and how to close them. */
export interface SharedServices {
  bus: RevocationBus;
  rateLimiter: RateLimiter;
  close(): Promise<void>;
}

/**
 * Opens the revocation bus and rate limiter over Redis at `url` (`TESSERA_REDIS_URL`). `@tessera/redis`
 * is an optional peer loaded only then; without it this throws an error naming the setting and the package.
 */
export async function openRedis(url: string): Promise<SharedServices> {
  const { createRedisBus, createRedisRateLimiter } = await importOptionalPeer(
    '@tessera/redis',
    'TESSERA_REDIS_URL',
    () => import('@tessera/redis'),
  );
  const bus = createRedisBus({ url });
  const rateLimiter = createRedisRateLimiter({ url });
  return {
    bus,
    rateLimiter,
    async close() {
      await bus.close();
      await rateLimiter.close();
    },
  };
}
