// An existing Express app (with its own JSON body parser) that adds Tessera in library mode under
// /api. Run: npm exec -- node --conditions=source examples/express-app/server.ts
import { tesseraRoutes } from '@tessera/server/express';
import express from 'express';
import { type ExampleOptions, listenExample, openExampleEngine } from '../engine.ts';

/** Builds the Express app. */
export async function createApp(options: ExampleOptions = {}) {
  const { engine, store } = await openExampleEngine('express', options);
  const app = express();
  // Tessera first: it reads and validates its own bodies (16 KB limit, JSON errors in its format).
  app.use(
    tesseraRoutes({ engine, prefix: '/api', allowedOrigins: [options.issuer ?? 'http://127.0.0.1:3000'] }),
  );
  // The app's own JSON parser for its own routes.
  app.use(express.json());

  app.post('/api/echo', (req, res) => {
    res.json({ echo: req.body });
  });
  app.get('/api/profile', async (req, res) => {
    const token = /^Bearer (.+)$/.exec(req.get('authorization') ?? '')?.[1];
    try {
      if (!token) throw new Error('no token');
      const { claims } = await engine.authenticate(token);
      res.json({ sub: claims.sub, roles: claims.roles });
    } catch {
      res
        .status(401)
        .set('WWW-Authenticate', token ? 'Bearer error="invalid_token"' : 'Bearer')
        .json({ error: 'invalid_token' });
    }
  });
  app.use((_req, res) => {
    res.status(404).json({ error: 'not found (express app)' });
  });
  return { app, engine, store };
}

/** Starts the app on `port` (0: any free port); resolves to its URL and a close function. */
export async function start(port = 3000, options: ExampleOptions = {}) {
  const { app, engine, store } = await createApp(options);
  return listenExample(app, port, engine, store);
}

if (import.meta.main) {
  const { url } = await start(Number(process.env.PORT ?? 3000));
  console.log(`Express app with Tessera at ${url}`);
}
