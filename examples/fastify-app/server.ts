// An existing Fastify app, with its own routes and Fastify's JSON parsing, that registers Tessera as
// a plugin under /api. Run: npm exec -- node --conditions=@tessera/source examples/fastify-app/server.ts
import { isTesseraError } from '@tessera/core';
import { tesseraRoutes } from '@tessera/server/fastify';
import Fastify from 'fastify';
import { type ExampleOptions, openExampleEngine, type RunningExample } from '../engine.ts';

/**
 * Builds the app: `GET /api/hello`, `POST /api/echo` (JSON), Tessera's routes under `/api/auth`,
 * `/api/oauth` and `/api/.well-known`, and `GET /api/profile` for signed-in callers only. Closing the
 * app closes the engine and store.
 * @example
 * const { app } = await createApp({ dataDir: './.tessera-example' });
 */
export async function createApp(options: ExampleOptions = {}) {
  const opened = await openExampleEngine('fastify', options);
  const { engine } = opened;
  const app = Fastify();
  app.addHook('onClose', () => opened.close());

  app.get('/api/hello', async () => ({ hello: 'from fastify' }));
  app.post('/api/echo', async (request) => ({ echo: request.body }));

  await app.register(tesseraRoutes({ engine, prefix: '/api' }));

  // The app's own protected route: any Tessera access token, checked by the engine.
  app.get('/api/profile', async (request, reply) => {
    const token = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (!token) return reply.code(401).header('WWW-Authenticate', 'Bearer').send({ error: 'unauthorized' });
    try {
      const { claims } = await engine.authenticate(token);
      return { claims };
    } catch (error) {
      if (!isTesseraError(error)) throw error;
      return reply
        .code(401)
        .header('WWW-Authenticate', 'Bearer error="invalid_token"')
        .send({ error: 'invalid_token' });
    }
  });
  return { app, engine };
}

/**
 * Starts the app on 127.0.0.1:`port` (0: any free port).
 * @example
 * const { url, close } = await start(0, { dataDir: tmp });
 */
export async function start(port = 3000, options: ExampleOptions = {}): Promise<RunningExample> {
  const { app, engine } = await createApp(options);
  const url = await app.listen({ port, host: '127.0.0.1' });
  return { url, engine, close: () => app.close() };
}

if (import.meta.main) {
  const { url } = await start(Number(process.env.PORT ?? 3000));
  console.log(`Fastify app with Tessera at ${url} (try POST ${url}/api/auth/register)`);
}
