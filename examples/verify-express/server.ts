// A resource service in Express that accepts Tessera access tokens via @tessera/verify.
// Run: TESSERA_ISSUER=http://127.0.0.1:4000 npm exec -- node --conditions=@tessera/source examples/verify-express/server.ts
import type { Server } from 'node:http';
import type { Verifier } from '@tessera/verify';
import { requireAuth } from '@tessera/verify/express';
import express from 'express';
import { runFromCommandLine } from '../verify-env.ts';

/**
 * Builds the app: `GET /me` answers the verified claims; `GET /recent` only to a user who signed in (or
 * re-authenticated) within the last 5 minutes (RFC 9470 step-up: otherwise 401 with `max_age=300`).
 * @example
 * const app = createApp(verifierFromEnv());
 */
export function createApp(verifier: Verifier) {
  const app = express();
  app.get('/me', requireAuth(verifier), (req, res) => {
    res.json({ framework: 'express', claims: req.auth }); // req.auth is typed by @tessera/verify/express
  });
  app.get('/recent', requireAuth(verifier, { maxAge: 300 }), (req, res) => {
    res.json({ framework: 'express', claims: req.auth });
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

if (import.meta.main) await runFromCommandLine('Express', listen);
