// A Hono app, with its own routes, that adds Tessera under /api as middleware; served on Node by
// @hono/node-server. Run: npm exec -- node --conditions=@tessera/source examples/hono-app/server.ts
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { requireSession, tesseraRoutes } from '@tessera/server/hono';
import { Hono } from 'hono';
import { type ExampleOptions, listenExample, openExampleEngine, type RunningExample } from '../engine.ts';

/**
 * Builds the app: `GET /api/hello`, `POST /api/echo` (JSON), Tessera's routes under `/api/auth`,
 * `/api/oauth` and `/api/.well-known` (and the RFC 8414 metadata at the root), `GET /api/profile` for
 * signed-in callers only, and `GET /api/orders` behind `requireSession`.
 * @example
 * const { app, tessera, opened } = await createApp({ dataDir: './.tessera-example' });
 */
export async function createApp(options: ExampleOptions = {}) {
  const opened = await openExampleEngine('hono', options);
  const { engine } = opened;
  const app = new Hono();
  const tessera = tesseraRoutes({ engine, prefix: '/api' });
  app.use(tessera);

  app.get('/api/hello', (c) => c.json({ hello: 'from hono' }));
  app.post('/api/echo', async (c) => {
    try {
      return c.json({ echo: await c.req.json() });
    } catch {
      return c.json({ message: 'Malformed JSON' }, 400);
    }
  });
  // The app's own protected route, answering the claims `requireSession` verified.
  app.get('/api/profile', async (c, next) => {
    if (!c.req.header('authorization')) {
      return c.json({ error: 'unauthorized' }, 401, { 'WWW-Authenticate': 'Bearer' });
    }
    return next();
  });
  app.get('/api/profile', requireSession(engine), (c) => c.json({ claims: c.get('auth') }));
  app.get('/api/orders', requireSession(engine), (c) => c.json({ orders: [], for: c.get('auth').sub }));
  return { app, tessera, opened };
}

/**
 * Starts the app on 127.0.0.1:`port` (0: any free port) with `@hono/node-server`.
 * @example
 * const { url, close } = await start(0, { dataDir: tmp });
 */
export async function start(port = 3000, options: ExampleOptions = {}): Promise<RunningExample> {
  const { app, tessera, opened } = await createApp(options);
  const listen = (p: number, hostname: string) => serve({ fetch: app.fetch, port: p, hostname }) as Server;
  return listenExample({ listen }, port, opened, tessera);
}

if (import.meta.main) {
  const { url } = await start(Number(process.env.PORT ?? 3000));
  console.log(`Hono app with Tessera at ${url} (try POST ${url}/api/auth/register)`);
}
