// A resource service in Fastify that accepts Tessera access tokens via @tessera/verify.
import type { Server } from 'node:http';
import type { Verifier } from '@tessera/verify';
import { requireAuth } from '@tessera/verify/fastify';
import Fastify from 'fastify';
import { runFromCommandLine } from '../verify-env.ts';

/**
 * Builds the app: `GET /me` answers the verified claims; `GET /recent` only to a user who signed in (or
 * re-authenticated) within the last 5 minutes (RFC 9470 step-up: otherwise 401 with `max_age=300`).
 * @example
 * const app = createApp(verifierFromEnv());
 */
export function createApp(verifier: Verifier) {
  const app = Fastify();
  app.get('/me', { preHandler: requireAuth(verifier) }, async (request) => ({
    framework: 'fastify',
    claims: request.auth, // typed by @tessera/verify/fastify
  }));
  app.get('/recent', { preHandler: requireAuth(verifier, { maxAge: 300 }) }, async (request) => ({
    framework: 'fastify',
    claims: request.auth,
  }));
  return app;
}

/**
 * Listens on `port` (0: any free one).
 * @example
 * const server = await listen(verifierFromEnv(), 5000);
 */
export async function listen(verifier: Verifier, port = 0): Promise<Server> {
  const app = createApp(verifier);
  await app.listen({ port, host: '127.0.0.1' });
  return app.server;
}

if (import.meta.main) await runFromCommandLine('Fastify', listen);
