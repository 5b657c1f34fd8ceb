// A TypeScript app using the installed tarballs, type-checked (never run) under moduleResolution
// nodenext and bundler with skipLibCheck false: every declaration file it reaches must check, and
// the framework augmentations must type `req.auth` and friends. The test adds one `import * as` per
// export of every package beside it (exports.ts), so no declaration file escapes the check.
import { createTesseraClient, type TesseraClient } from '@tessera/client';
import {
  createEngine,
  createMemoryStore,
  createSqliteStore,
  type Engine,
  type EngineOptions,
  TesseraError,
} from '@tessera/core';
import { storeConformance } from '@tessera/core/testing';
import { createPostgresStore, type PostgresStoreOptions } from '@tessera/postgres';
import { parseAuthorization } from '@tessera/protocol';
import { createRedisBus } from '@tessera/redis';
import { createHandler, type TesseraHandler } from '@tessera/server';
import { requireSession, tesseraRoutes } from '@tessera/server/express';
import { toNodeListener } from '@tessera/server/node';
import { createTesseraServer, resolveConfig, type TesseraConfig } from '@tessera/standalone';
import { createVerifier, type VerifiedClaims, type Verifier } from '@tessera/verify';
import { requireAuth } from '@tessera/verify/express';
import express from 'express';

export async function app(): Promise<void> {
  const options: EngineOptions = {
    store: createSqliteStore({ path: './app.db' }),
    secret: new Uint8Array(32),
    issuer: 'http://127.0.0.1:3000',
    accessTtlSeconds: 300,
  };
  const engine: Engine = await createEngine(options);
  const handler: TesseraHandler = createHandler({ engine });
  const response: Response = await handler(new Request('http://127.0.0.1:3000/healthz'));
  const listener: (
    request: import('node:http').IncomingMessage,
    reply: import('node:http').ServerResponse,
  ) => void = toNodeListener(handler);
  void [response.status, listener];

  const verifier: Verifier = createVerifier({
    issuer: 'http://127.0.0.1:3000',
    audience: 'http://127.0.0.1:3000',
  });
  const server = express();
  server.use(tesseraRoutes({ engine }));
  server.get('/own', requireSession(engine), (req, res) => {
    const sub: string | undefined = req.auth?.sub;
    res.json({ sub });
  });
  server.get('/orders', requireAuth(verifier), (req, res) => {
    const claims: VerifiedClaims | undefined = req.auth;
    res.json({ sub: claims?.sub });
  });

  const client: TesseraClient = createTesseraClient({ baseUrl: 'http://127.0.0.1:3000', transport: 'body' });
  const token: string | null = await client.getAccessToken();
  const parsed = parseAuthorization(token === null ? undefined : `Bearer ${token}`);
  void parsed;

  const postgres: PostgresStoreOptions = { connectionString: 'postgres://127.0.0.1/app' };
  void createPostgresStore(postgres);
  void createRedisBus({ url: 'redis://127.0.0.1:6379' });
  const config: TesseraConfig = resolveConfig({ env: {} });
  void createTesseraServer(config);
  storeConformance('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }));

  try {
    await engine.login({ email: 'ada@example.com', password: 'x' });
  } catch (error) {
    if (error instanceof TesseraError) {
      const code: string = error.code;
      void code;
    }
  }
}
