// An existing Express app, with its own JSON body parser and routes, that adds Tessera under /api.
// Run: npm exec -- node --conditions=@tessera/source examples/express-app/server.ts
import { isTesseraError } from '@tessera/core';
import { tesseraRoutes } from '@tessera/server/express';
import express, { type ErrorRequestHandler } from 'express';
import { type ExampleOptions, listenExample, openExampleEngine, type RunningExample } from '../engine.ts';

/**
 * Builds the app: `GET /api/hello`, `POST /api/echo` (JSON), Tessera's routes under `/api/auth`,
 * `/api/oauth` and `/api/.well-known`, and `GET /api/profile` for signed-in callers only.
 * @example
 * const { app, tessera, opened } = await createApp({ dataDir: './.tessera-example' });
 */
export async function createApp(options: ExampleOptions = {}) {
  const opened = await openExampleEngine('express', options);
  const { engine } = opened;
  const app = express();
  // The app's parser runs first, for every route; Tessera uses the bodies it parsed.
  app.use(express.json());

  app.get('/api/hello', (_req, res) => {
    res.json({ hello: 'from express' });
  });
  app.post('/api/echo', (req, res) => {
    res.json({ echo: req.body });
  });

  const tessera = tesseraRoutes({ engine, prefix: '/api' });
  app.use(tessera);

  // The app's own protected route: any Tessera access token, checked by the engine.
  app.get('/api/profile', async (req, res) => {
    const token = /^Bearer (\S+)$/i.exec(req.get('authorization') ?? '')?.[1];
    if (!token) {
      res.status(401).set('WWW-Authenticate', 'Bearer').json({ error: 'unauthorized' });
      return;
    }
    try {
      const { claims } = await engine.authenticate(token);
      res.json({ claims });
    } catch (error) {
      if (!isTesseraError(error)) throw error;
      res
        .status(401)
        .set('WWW-Authenticate', 'Bearer error="invalid_token"')
        .json({ error: 'invalid_token' });
    }
  });

  // The app's own error handler: its JSON parser's 400 on its own routes, say.
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    const status = Number(error?.status) || 500;
    res.status(status).json({ message: status < 500 ? String(error.message) : 'Something went wrong.' });
  };
  app.use(onError);
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
  console.log(`Express app with Tessera at ${url} (try POST ${url}/api/auth/register)`);
}
