// Shared by the examples: one Tessera engine over an SQLite file (or the path in TESSERA_EXAMPLE_DB).
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type Argon2Params,
  type Clock,
  createEngine,
  createSqliteStore,
  type Engine,
  type EngineOptions,
  type Store,
} from '@tessera/core';

/** Options the example apps accept, so tests can start them on a temp file with fast hashing. */
export interface ExampleOptions {
  /** SQLite file. Default: `./.tessera-example/<name>.db`. */
  dbPath?: string;
  /** Public URL of the app (issuer, allowed origin). */
  issuer?: string;
  argon2?: Argon2Params;
  rateLimits?: false;
  policy?: EngineOptions['policy'];
  clock?: Clock;
  accessTtlSeconds?: number;
}

/** Opens the example's store and engine. The secret comes from TESSERA_SECRET, else a random one per run. */
export async function openExampleEngine(
  name: string,
  options: ExampleOptions,
): Promise<{ engine: Engine; store: Store }> {
  const store = createSqliteStore({ path: options.dbPath ?? `./.tessera-example/${name}.db` });
  const secret = process.env.TESSERA_SECRET
    ? Buffer.from(process.env.TESSERA_SECRET, 'base64url')
    : randomBytes(32);
  const engine = await createEngine({
    store,
    secret,
    issuer: options.issuer ?? 'http://127.0.0.1:3000',
    ...(options.argon2 ? { argon2: options.argon2 } : {}),
    ...(options.rateLimits === false ? { rateLimits: false } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.accessTtlSeconds ? { accessTtlSeconds: options.accessTtlSeconds } : {}),
  });
  return { engine, store };
}

/** Listens with a Node HTTP app (Koa or Express) on 127.0.0.1; resolves to its URL and a close function. */
export async function listenExample(
  app: { listen(port: number, host: string): Server },
  port: number,
  engine: Engine,
  store: Store,
): Promise<{ url: string; engine: Engine; close(): Promise<void> }> {
  const server = app.listen(port, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    engine,
    async close() {
      await new Promise((resolve) => server.close(resolve));
      await engine.close();
      await store.close();
    },
  };
}
