// An existing Fastify app that registers Tessera as a plugin under /api; its own JSON routes keep
// Fastify's normal body parsing. Run: npm exec -- node --conditions=source examples/fastify-app/server.ts
import { tesseraRoutes } from '@tessera/server/fastify';
import Fastify from 'fastify';
import { type ExampleOptions, openExampleEngine } from '../engine.ts';

/** Builds the Fastify app. */
export async function createApp(options: ExampleOptions = {}) {
  const { engine, store } = await openExampleEngine('fastify', options);
  const app = Fastify();
  app.post('/api/echo', async (request) => ({ echo: request.body }));
  app.get('/api/profile', async (request, reply) => {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    try {
      if (!token) throw new Error('no token');
      const { claims } = await engine.authenticate(token);
      return { sub: claims.sub, roles: claims.roles };
    } catch {
      return reply
        .code(401)
        .header('WWW-Authenticate', token ? 'Bearer error="invalid_token"' : 'Bearer')
        .send({ error: 'invalid_token' });
    }
  });
  await app.register(tesseraRoutes({ engine, allowedOrigins: [options.issuer ?? 'http://127.0.0.1:3000'] }), {
    prefix: '/api',
  });
  app.addHook('onClose', async () => {
    await engine.close();
    await store.close();
  });
  return { app, engine, store };
}

/** Starts the app on `port` (0: any free port). */
export async function start(port = 3000, options: ExampleOptions = {}) {
  const { app, engine } = await createApp(options);
  const url = await app.listen({ port, host: '127.0.0.1' });
  return { url, engine, close: () => app.close() };
}

if (import.meta.main) {
  const { url } = await start(Number(process.env.PORT ?? 3000));
  console.log(`Fastify app with Tessera at ${url}`);
}
