// An Express API on the default `rotating-refresh` policy: Tessera's routes under /api, and the app's
// own route behind `requireSession`. `client.ts` beside it is the other half: @tessera/client keeping a
// user signed in while it calls the API. Run: npm exec -- node --conditions=source examples/express-client/server.ts
import { requireSession, tesseraRoutes } from '@tessera/server/express';
import express from 'express';
import { type ExampleOptions, listenExample, openExampleEngine } from '../engine.ts';

/** Builds the app. */
export async function createApp(options: ExampleOptions = {}) {
  const { engine, store } = await openExampleEngine('express-client', options);
  const app = express();
  app.use(
    tesseraRoutes({ engine, prefix: '/api', allowedOrigins: [options.issuer ?? 'http://127.0.0.1:3000'] }),
  );
  app.get('/api/orders', requireSession(engine), (req, res) => {
    const auth = (req as typeof req & { auth?: { claims: { sub: string } } }).auth;
    res.json({ orders: [{ id: 1, item: 'tea' }], for: auth?.claims.sub });
  });
  return { app, engine, store };
}

/** Starts the app on `port` (0: any free port). */
export async function start(port = 3000, options: ExampleOptions = {}) {
  const { app, engine, store } = await createApp(options);
  return listenExample(app, port, engine, store);
}

if (import.meta.main) {
  const { url } = await start(Number(process.env.PORT ?? 3000));
  console.log(
    `Express API with Tessera at ${url}; try: npm exec -- node --conditions=source examples/express-client/client.ts ${url}`,
  );
}
