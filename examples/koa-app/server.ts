// An existing Koa app that adds Tessera in library mode under /api, plus a route of its own that
// only signed-in users may call. Run: npm exec -- node --conditions=source examples/koa-app/server.ts
import { tesseraRoutes } from '@tessera/server/koa';
import Koa from 'koa';
import { type ExampleOptions, listenExample, openExampleEngine } from '../engine.ts';

/** Builds the Koa app. */
export async function createApp(options: ExampleOptions = {}) {
  const { engine, store } = await openExampleEngine('koa', options);
  const app = new Koa();

  // The app's own routes.
  app.use(async (ctx, next) => {
    if (ctx.path === '/api/hello') {
      ctx.body = { hello: 'from koa' };
      return;
    }
    if (ctx.path === '/api/profile') {
      const token = /^Bearer (.+)$/.exec(ctx.get('authorization'))?.[1];
      try {
        if (!token) throw new Error('no token');
        const { claims } = await engine.authenticate(token);
        ctx.body = { sub: claims.sub, roles: claims.roles, phone_number: claims.phone_number ?? null };
      } catch {
        ctx.status = 401;
        ctx.set('WWW-Authenticate', token ? 'Bearer error="invalid_token"' : 'Bearer');
        ctx.body = { error: 'invalid_token' };
      }
      return;
    }
    await next();
  });

  // Tessera: /api/auth/*, /api/oauth/*, /api/.well-known/*.
  app.use(
    tesseraRoutes({ engine, prefix: '/api', allowedOrigins: [options.issuer ?? 'http://127.0.0.1:3000'] }),
  );
  return { app, engine, store };
}

/** Starts the app on `port` (0: any free port); resolves to its URL and a close function. */
export async function start(port = 3000, options: ExampleOptions = {}) {
  const { app, engine, store } = await createApp(options);
  return listenExample(app, port, engine, store);
}

if (import.meta.main) {
  const { url } = await start(Number(process.env.PORT ?? 3000));
  console.log(`Koa app with Tessera at ${url} (try POST ${url}/api/auth/register)`);
}
