// A plain node:http app, with its own small router, that serves Tessera under /api through
// toNodeListener (the app's listener is the fallback for paths Tessera has no route for).
// Run: npm exec -- node --conditions=@tessera/source examples/node-app/server.ts
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHandler } from '@tessera/server';
import { requireSession, toNodeListener } from '@tessera/server/node';
import { type ExampleOptions, listenExample, openExampleEngine, type RunningExample } from '../engine.ts';

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : {};
}

/**
 * Builds the app: `GET /api/hello`, `POST /api/echo` (JSON), Tessera's routes under `/api/auth`,
 * `/api/oauth` and `/api/.well-known` (and the RFC 8414 metadata at the root), and `GET /api/profile`
 * for signed-in callers only.
 * @example
 * const { server, tessera, opened } = await createApp({ dataDir: './.tessera-example' });
 */
export async function createApp(options: ExampleOptions = {}) {
  const opened = await openExampleEngine('node', options);
  const { engine } = opened;
  const tessera = createHandler({ engine, prefix: '/api' });
  const session = requireSession(engine);

  // The app's own routes; whatever Tessera does not serve comes here.
  const app = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/api/hello') {
      sendJson(res, 200, { hello: 'from node' });
    } else if (req.method === 'POST' && path === '/api/echo') {
      readJson(req).then(
        (body) => sendJson(res, 200, { echo: body }),
        () => sendJson(res, 400, { message: 'Malformed JSON' }),
      );
    } else if (req.method === 'GET' && path === '/api/profile') {
      if (!req.headers.authorization) {
        sendJson(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
        return;
      }
      // requireSession checks the token with the engine (signature, expiry, live session) and answers
      // RFC 6750 refusals itself.
      session(req, res, () =>
        sendJson(res, 200, { claims: (req as IncomingMessage & { auth?: unknown }).auth }),
      );
    } else {
      sendJson(res, 404, { message: 'Not here' });
    }
  };
  const server = createServer(toNodeListener(tessera, { fallback: app }));
  return { server, tessera, opened };
}

/**
 * Starts the app on 127.0.0.1:`port` (0: any free port).
 * @example
 * const { url, close } = await start(0, { dataDir: tmp });
 */
export async function start(port = 3000, options: ExampleOptions = {}): Promise<RunningExample> {
  const { server, tessera, opened } = await createApp(options);
  return listenExample({ listen: (p, host) => server.listen(p, host) }, port, opened, tessera);
}

if (import.meta.main) {
  const { url } = await start(Number(process.env.PORT ?? 3000));
  console.log(`node:http app with Tessera at ${url} (try POST ${url}/api/auth/register)`);
}
