// An Express API on the default `rotating-refresh` policy: Tessera's routes under /api, and the app's
// own route behind `requireSession`. `client.ts` beside it is the other half: @tessera/client keeping a
// user signed in while it calls the API. Run: npm exec -- node --conditions=@tessera/source examples/express-client/server.ts
import { requireSession, tesseraRoutes } from '@tessera/server/express';
import express from 'express';
import { type ExampleOptions, listenExample, openExampleEngine } from '../engine.ts';

/**
 * Builds the app: Tessera under /api, and `GET /api/orders` behind `requireSession`.
 * @example
 * const { app, tessera, opened } = await createApp({ dataDir: './.tessera-example' });
 */
export async function createApp(options: ExampleOptions = {}) {
  const opened = await openExampleEngine('express-client', options);
  const { engine } = opened;
  const app = express();
  const tessera = tesseraRoutes({ engine, prefix: '/api' });
  app.use(tessera);
  app.get('/api/orders', requireSession(engine), (req, res) => {
    res.json({ orders: [{ id: 1, item: 'tea' }], for: req.auth?.sub });
  });
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
  console.log(
    `Express API with Tessera at ${url}; try: npm exec -- node --conditions=@tessera/source examples/express-client/client.ts ${url}`,
  );
}
