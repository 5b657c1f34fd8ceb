// A Koa app on the `sliding-single-token` policy: one short access token, renewed by the server in a
// `Tessera-Access-Token` response header while the user is active. It shows a profile change (a phone
// number verified for two-factor login) reaching the token at once.
// Run: npm exec -- node --conditions=@tessera/source examples/koa-sliding/server.ts
import { requireSession, tesseraRoutes } from '@tessera/server/koa';
import Koa from 'koa';
import { type ExampleOptions, listenExample, openExampleEngine } from '../engine.ts';

/**
 * Builds the app: Tessera under /api, and the app's own routes behind `requireSession`.
 * @example
 * const { app, tessera, opened } = await createApp({ dataDir: './.tessera-example' });
 */
export async function createApp(options: ExampleOptions = {}) {
  const opened = await openExampleEngine('koa-sliding', {
    ...options,
    policy: 'sliding-single-token',
  });
  const { engine } = opened;
  const app = new Koa();
  const session = requireSession(engine);

  app.use(async (ctx, next) => {
    if (ctx.path === '/api/orders' && ctx.method === 'GET') {
      // Every call past half the token's life gets a fresh token in the response headers.
      return session(ctx, async () => {
        ctx.body = { orders: [], for: ctx.state.auth?.sub };
      });
    }
    if (ctx.path === '/api/verify-phone' && ctx.method === 'POST') {
      return session(ctx, async () => {
        // A real app would check an SMS code first; then the phone number is a claim, effective now.
        const claims = ctx.state.auth;
        if (!claims) return;
        const { access } = await engine.updateUser(claims.sub, {
          profile: { phone_number: '+14155550123' },
          actingSessionId: claims.sid,
        });
        ctx.body = { access_token: access?.accessToken, expires_in: access?.expiresIn };
      });
    }
    return next();
  });
  const tessera = tesseraRoutes({ engine, prefix: '/api' });
  app.use(tessera);
  return { app, tessera, opened };
}

/**
 * Starts the app on 127.0.0.1:`port` (0: any free port).
 * @example
 * const { url, close } = await start(0, { dataDir: tmp });
 */
export async function start(port = 3000, options: ExampleOptions = {}) {
  const { app, tessera, opened } = await createApp(options);
  return listenExample(app, port, opened, tessera);
}

if (import.meta.main) {
  const { url } = await start(Number(process.env.PORT ?? 3000));
  console.log(`Koa app (sliding-single-token) at ${url}`);
}
