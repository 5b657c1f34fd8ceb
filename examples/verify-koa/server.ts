// A resource service in Koa that accepts Tessera access tokens via @tessera/verify.
import type { Server } from 'node:http';
import type { Verifier } from '@tessera/verify';
import { requireAuth } from '@tessera/verify/koa';
import Koa from 'koa';
import { runFromCommandLine } from '../verify-env.ts';

/**
 * Builds the app: `GET /me` answers the verified claims; `GET /recent` only to a user who signed in (or
 * re-authenticated) within the last 5 minutes (RFC 9470 step-up: otherwise 401 with `max_age=300`).
 * @example
 * const app = createApp(verifierFromEnv());
 */
export function createApp(verifier: Verifier) {
  const app = new Koa();
  const guards: Record<string, ReturnType<typeof requireAuth>> = {
    '/me': requireAuth(verifier),
    '/recent': requireAuth(verifier, { maxAge: 300 }),
  };
  app.use(async (ctx, next) => {
    const guard = Object.hasOwn(guards, ctx.path) ? guards[ctx.path] : undefined;
    if (!guard) return next();
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
