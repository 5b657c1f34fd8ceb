import { createTesseraServer, resolveConfig } from '@tessera/standalone';
import type { ExampleOptions, RunningExample } from '../examples/engine.ts';
import { mountContract } from './helpers/mount-contract.ts';

/** The standalone server (`tessera start`: node:http over the handler) as the contract's host, at the root. */
async function start(port: number, options: ExampleOptions): Promise<RunningExample> {
  const config = resolveConfig({
    env: {
      TESSERA_PORT: String(port),
      TESSERA_DATA_DIR: options.dataDir ?? '',
      TESSERA_ISSUER: options.issuer ?? '',
      TESSERA_RATE_LIMIT: options.rateLimits === false ? 'off' : 'on',
      TESSERA_LOG_LEVEL: 'silent',
    },
  });
  const server = await createTesseraServer(config, {
    processMetrics: false,
    ...(options.argon2 ? { argon2: options.argon2 } : {}),
  });
  return { url: await server.listen(), engine: server.engine, close: () => server.close() };
}

mountContract('standalone', start, { prefix: '', appRoutes: false });
