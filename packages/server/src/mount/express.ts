import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TesseraClaims } from '@tessera/protocol';
import type {} from 'express-serve-static-core';
import { createHandler, handlerInternals, type TesseraHandler } from '../handler.ts';
import { hostBodyError } from '../http/incoming.ts';
import { fromNodeRequest, writeNodeResponse } from '../http/node-io.ts';
import type { HandlerOptions } from '../http/route.ts';
import { requireSession as nodeRequireSession } from './node.ts';

// The same declaration as @tessera/verify's: `req.auth` is the verified access token's claims in both.
declare module 'express-serve-static-core' {
  interface Request {
    /** The verified access-token claims, set by `requireSession` (or `@tessera/verify`'s `requireAuth`). */
    auth?: TesseraClaims;
  }
}

/** Express request fields the mount reads (kept structural so Express stays an optional peer). */
interface ExpressLikeRequest extends IncomingMessage {
  originalUrl?: string;
  baseUrl?: string;
  body?: unknown;
}

type Next = (error?: unknown) => void;

/**
 * What {@link tesseraRoutes} returns: the routes, and an error handler that answers a body parser's
 * failure on one of Tessera's paths (malformed JSON, too large) in Tessera's format. `app.use` takes
 * the pair as is. `close()` ends open revocation streams (call it before `server.close()`).
 */
export type ExpressRoutes = [
  (req: IncomingMessage, res: ServerResponse, next: Next) => void,
  (error: unknown, req: IncomingMessage, res: ServerResponse, next: Next) => void,
] & { close(): void; handler: TesseraHandler };

/**
 * Express middleware serving every Tessera route at `prefix` (default ''); other paths go on to the
 * app. Put it before or after the app's body parsers: Tessera reads a body nobody read yet itself, and
 * uses one `express.json()` (or `express.urlencoded()`, `express.raw()`) already parsed, within the same
 * 16 KB limit. Give the full path in `prefix`, also inside `app.use('/api', …)` or a router. The client
 * address is the socket's, or per `trustProxy` (Express's own `trust proxy` setting is not read).
 * @example
 * const app = express();
 * app.use(express.json());
 * app.use(tesseraRoutes({ engine, prefix: '/api' })); // POST /api/auth/login, …
 */
export function tesseraRoutes(options: HandlerOptions): ExpressRoutes {
  const handler = createHandler(options);
  const { respond } = handlerInternals(handler);
  const prefix = handler.prefix;
  const handle = (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    const request = req as ExpressLikeRequest;
    const baseUrl = request.baseUrl ?? '';
    if (baseUrl !== '' && prefix !== baseUrl && !prefix.startsWith(`${baseUrl}/`)) {
      // app.use('/api', tesseraRoutes({ engine })) would serve nothing, silently: say so instead.
      next(new Error(`tesseraRoutes is mounted at ${baseUrl}: pass the full path as its prefix option.`));
      return;
    }
    // A body parser that ran before us consumed the stream: use what it produced.
    const parsed = request.readableEnded && request.body !== undefined ? { value: request.body } : undefined;
    const incoming = fromNodeRequest(request, {
      target: request.originalUrl ?? request.url ?? '/',
      ...(parsed ? { parsedBody: parsed } : {}),
    });
    respond(incoming, true).then((response) => {
      if (response === null) next();
      else writeNodeResponse(res, response, request.method === 'HEAD', handler.closed);
    }, next);
  };
  const handleBodyError = (error: unknown, req: IncomingMessage, res: ServerResponse, next: Next): void => {
    // body-parser's errors carry a `type` ('entity.parse.failed', 'entity.too.large', …); others are the app's.
    const fromBodyParser = typeof (error as { type?: unknown } | null)?.type === 'string';
    const translated = fromBodyParser && !res.headersSent ? hostBodyError(error) : null;
    if (translated === null) {
      next(error);
      return;
    }
    const request = req as ExpressLikeRequest;
    const incoming = fromNodeRequest(request, {
      target: request.originalUrl ?? request.url ?? '/',
      bodyError: translated,
    });
    respond(incoming, true).then((response) => {
      if (response === null) next(error);
      else writeNodeResponse(res, response, request.method === 'HEAD');
    }, next);
  };
  const routes: [typeof handle, typeof handleBodyError] = [handle, handleBodyError];
  return Object.assign(routes, { close: () => handler.close(), handler });
}

/**
 * Express middleware for the app's own routes (the same as `@tessera/server/node`'s): requires a Tessera
 * access token of a live session (RFC 6750 answers otherwise), puts its claims on `req.auth`, and under
 * `sliding-single-token` sets the renewed token headers before the route runs.
 * @example
 * app.get('/api/orders', requireSession(engine), (req, res) => res.json({ for: req.auth?.sub }));
 */
export const requireSession: typeof nodeRequireSession = nodeRequireSession;
