// A resource service in Koa that accepts Tessera access tokens via @tessera/verify.
import type { Server } from 'node:http';
import type { Verifier } from '@tessera/verify';
import { requireAuth } from '@tessera/verify/koa';
import Koa from 'koa';
import { runFromCommandLine } from '../verify-env.ts';

/**
 * Builds the app: `GET /me` answers the verified claims.
 * @example
 * const app = createApp(verifierFromEnv());
 */
export function createApp(verifier: Verifier) {
  const app = new Koa();
  const guard = requireAuth(verifier);
  app.use(async (ctx, next) => {
    if (ctx.path !== '/me') return next();
    await guard(ctx, async () => {
      ctx.body = { framework: 'koa', claims: ctx.state.auth };
    });
  });
  return app;
}

/**
 * Listens on `port` (0: any free one).
 * @example
 * const server = await listen(verifierFromEnv(), 5000);
 */
export async function listen(verifier: Verifier, port = 0): Promise<Server> {
  const server = createApp(verifier).listen(port, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return server;
}

if (import.meta.main) await runFromCommandLine('Koa', listen);
