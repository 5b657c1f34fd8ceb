// Shared by the library-mode examples: one Tessera engine over an SQLite file, and listening.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import {
  type Argon2Params,
  type Clock,
  createEngine,
  createSqliteStore,
  type Engine,
  type EngineOptions,
  type Store,
} from '@tessera/core';

/** Options the example apps accept, so tests can start them in a temp directory with fast hashing. */
export interface ExampleOptions {
  /** Directory of the SQLite file and the secret. Default: `TESSERA_EXAMPLE_DIR`, else `./.tessera-example`. */
  dataDir?: string;
  /** SQLite file. Default: `<dataDir>/<example>.db`. */
  dbPath?: string;
  /** Public URL of the app: the issuer, and the origin allowed to use the refresh cookie. */
  issuer?: string;
  argon2?: Argon2Params;
  rateLimits?: false;
  policy?: EngineOptions['policy'];
  clock?: Clock;
  accessTtlSeconds?: number;
  /** Identity providers whose ID tokens Tessera's `/auth/login/external` accepts (the OIDC example). */
  trustedIssuers?: EngineOptions['trustedIssuers'];
}

/** The engine of one example app and its store; `close()` stops both. */
export interface ExampleEngine {
  engine: Engine;
  store: Store;
  close(): Promise<void>;
}

/**
 * The root secret: TESSERA_SECRET (base64url), else `<dir>/secret`, made on first start. It must
 * outlive restarts: the signing keys in the database are encrypted under it.
 */
function loadSecret(dir: string): Uint8Array {
  if (process.env.TESSERA_SECRET) return Buffer.from(process.env.TESSERA_SECRET, 'base64url');
  const path = join(dir, 'secret');
  try {
    return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64url');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secret = randomBytes(32);
  writeFileSync(path, `${secret.toString('base64url')}\n`, { mode: 0o600 });
  return secret;
}

/**
 * The issuer of an example: `options.issuer`, else TESSERA_ISSUER, else `http://127.0.0.1:<PORT or 3000>`.
 * @example
 * exampleIssuer({}); // 'http://127.0.0.1:3000'
 */
export function exampleIssuer(options: ExampleOptions): string {
  return options.issuer ?? process.env.TESSERA_ISSUER ?? `http://127.0.0.1:${process.env.PORT ?? 3000}`;
}

/**
 * Opens the example's SQLite store and its engine (with the background sweeper of expired sessions).
 * @example
 * const { engine, close } = await openExampleEngine('koa', { dataDir: '/tmp/koa-example' });
 */
export async function openExampleEngine(name: string, options: ExampleOptions): Promise<ExampleEngine> {
  const dataDir = options.dataDir ?? (options.dbPath ? dirname(options.dbPath) : undefined);
  const dir = dataDir ?? process.env.TESSERA_EXAMPLE_DIR ?? './.tessera-example';
  const store = createSqliteStore({ path: options.dbPath ?? join(dir, `${name}.db`) });
  const engine = await createEngine({
    store,
    secret: loadSecret(dir),
    issuer: exampleIssuer(options),
    ...(options.argon2 ? { argon2: options.argon2 } : {}),
    ...(options.rateLimits === false ? { rateLimits: false } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.accessTtlSeconds ? { accessTtlSeconds: options.accessTtlSeconds } : {}),
    ...(options.trustedIssuers ? { trustedIssuers: options.trustedIssuers } : {}),
  });
  engine.startSweeper();
  return {
    engine,
    store,
    async close() {
      await engine.close();
      await store.close();
    },
  };
}

/** A running example: its URL, its engine, and `close()`. */
export interface RunningExample {
  url: string;
  engine: Engine;
  close(): Promise<void>;
}

/**
 * Listens with a Node HTTP app (Koa or Express) on 127.0.0.1. `close()` ends Tessera's open streams
 * (`routes.close()`), stops the server, then the engine and store.
 * @example
 * const { url, close } = await listenExample(app, 0, opened, tessera);
 */
export async function listenExample(
  app: { listen(port: number, host: string): Server },
  port: number,
  opened: ExampleEngine,
  routes: { close(): void },
): Promise<RunningExample> {
  const server = app.listen(port, '127.0.0.1');
  await new Promise((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  let closing = false;
  // server.close() only drops connections idle at that moment: drop those that finish afterwards too
  // (an ended revocation stream's keep-alive connection), instead of waiting for their timeout.
  server.on('request', (_req, res) => {
    res.on('finish', () => {
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    engine: opened.engine,
    async close() {
      closing = true;
      routes.close();
      await new Promise((resolve) => server.close(resolve));
      await opened.close();
    },
  };
}
