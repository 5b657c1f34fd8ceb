// An existing Koa app, with its own JSON body reader and routes, that adds Tessera under /api.
// Run: npm exec -- node --conditions=@tessera/source examples/koa-app/server.ts
import { isTesseraError } from '@tessera/core';
import { tesseraRoutes } from '@tessera/server/koa';
import Koa from 'koa';
import { type ExampleOptions, listenExample, openExampleEngine, type RunningExample } from '../engine.ts';

/**
 * The app's JSON body reader (a stand-in for `@koa/bodyparser`): puts the parsed body of an
 * `application/json` request on `ctx.request.body`; 400 when malformed, 413 past 100 KB.
 * @example
 * app.use(readJson);
 */
export async function readJson(ctx: Koa.Context, next: Koa.Next): Promise<void> {
  if (ctx.is('application/json')) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > 100_000) ctx.throw(413, 'Body too large');
      chunks.push(chunk);
    }
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      (ctx.request as { body?: unknown }).body = text ? JSON.parse(text) : {};
    } catch {
      ctx.throw(400, 'Malformed JSON');
    }
  }
  await next();
}

/**
 * Builds the app: `GET /api/hello`, `POST /api/echo` (JSON), Tessera's routes under `/api/auth`,
 * `/api/oauth` and `/api/.well-known`, and `GET /api/profile` for signed-in callers only.
 * @example
 * const { app, tessera, opened } = await createApp({ dataDir: './.tessera-example' });
 */
export async function createApp(options: ExampleOptions = {}) {
  const opened = await openExampleEngine('koa', options);
  const { engine } = opened;
  const app = new Koa();

  // Tessera before the body reader: it reads and checks its own bodies (16 KB, its error format).
  const tessera = tesseraRoutes({ engine, prefix: '/api' });
  app.use(tessera);
  app.use(readJson);

  app.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path === '/api/hello') {
      ctx.body = { hello: 'from koa' };
    } else if (ctx.method === 'POST' && ctx.path === '/api/echo') {
      ctx.body = { echo: (ctx.request as { body?: unknown }).body };
    } else if (ctx.method === 'GET' && ctx.path === '/api/profile') {
      // The app's own protected route: any Tessera access token, checked by the engine.
      const token = /^Bearer (\S+)$/i.exec(ctx.get('authorization'))?.[1];
      if (!token) {
        ctx.status = 401;
        ctx.set('WWW-Authenticate', 'Bearer');
        ctx.body = { error: 'unauthorized' };
        return;
      }
      try {
        const { claims } = await engine.authenticate(token);
        ctx.body = { claims };
      } catch (error) {
        if (!isTesseraError(error)) throw error;
        ctx.status = 401;
        ctx.set('WWW-Authenticate', 'Bearer error="invalid_token"');
        ctx.body = { error: 'invalid_token' };
      }
    } else {
      await next();
    }
  });
  return { app, tessera, opened };
}

/**
 * Starts the app on 127.0.0.1:`port` (0: any free port).
 * @example
 * const { url, close } = await start(0, { dataDir: tmp });
 */
export async function start(port = 3000, options: ExampleOptions = {}): Promise<RunningExample> {
  const { app, tessera, opened } = await createApp(options);
  return listenExample(app, port, opened, tessera);
}

if (import.meta.main) {
  const { url } = await start(Number(process.env.PORT ?? 3000));
  console.log(`Koa app with Tessera at ${url} (try POST ${url}/api/auth/register)`);
}
