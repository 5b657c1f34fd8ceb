// A resource service in Hono that accepts Tessera access tokens via @tessera/verify, served on Node by
// @hono/node-server (the same app runs on Bun, Deno or Cloudflare with their own `serve`).
// Run: TESSERA_ISSUER=http://127.0.0.1:4000 npm exec -- node --conditions=@tessera/source examples/verify-hono/server.ts
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Verifier } from '@tessera/verify';
import { requireAuth } from '@tessera/verify/hono';
import { Hono } from 'hono';
import { runFromCommandLine } from '../verify-env.ts';

/**
 * Builds the app: `GET /me` answers the verified claims; `GET /recent` only to a user who signed in (or
 * re-authenticated) within the last 5 minutes (RFC 9470 step-up: otherwise 401 with `max_age=300`).
 * @example
 * const app = createApp(verifierFromEnv());
 */
export function createApp(verifier: Verifier) {
  const app = new Hono();
  app.get('/me', requireAuth(verifier), (c) => c.json({ framework: 'hono', claims: c.get('auth') }));
  app.get('/recent', requireAuth(verifier, { maxAge: 300 }), (c) =>
    c.json({ framework: 'hono', claims: c.get('auth') }),
  );
  return app;
}

/**
 * Listens on `port` (0: any free one).
 * @example
 * const server = await listen(verifierFromEnv(), 5000);
 */
export async function listen(verifier: Verifier, port = 0): Promise<Server> {
  const app = createApp(verifier);
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => resolve(server as Server));
  });
}

if (import.meta.main) await runFromCommandLine('Hono', listen);
