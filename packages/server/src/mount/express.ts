import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Engine } from '@tessera/core';
import { createRequestHandler } from '../http/handler.ts';
import {
  flattenHeaders,
  hostBodyError,
  pathBelowPrefix,
  toHttpRequest,
  writeNodeResponse,
} from '../http/node-io.ts';
import type { RoutesOptions } from '../http/route.ts';
import { guardSession } from '../http/session-guard.ts';

/** Express request fields the mount reads (kept structural so Express stays an optional peer). */
interface ExpressLikeRequest extends IncomingMessage {
  originalUrl?: string;
  baseUrl?: string;
  ip?: string | undefined;
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
] & { close(): void };

/**
 * Express middleware serving every Tessera route at `prefix` (default ''); other paths go on to the
 * app. Put it before or after the app's body parsers: Tessera reads a body nobody read yet itself, and
 * uses one `express.json()` (or `express.urlencoded()`, `express.raw()`) already parsed, within the same
 * 16 KB limit. Give the full path in `prefix`, also inside `app.use('/api', …)` or a router.
 * @example
 * const app = express();
 * app.use(express.json());
 * app.use(tesseraRoutes({ engine, prefix: '/api' })); // POST /api/auth/login, …
 */
export function tesseraRoutes(options: RoutesOptions): ExpressRoutes {
  const handler = createRequestHandler(options);
  const prefix = handler.settings.prefix;
  // The path below the prefix when it is one of Tessera's, else null (the request is the app's).
  const tesseraPath = (request: ExpressLikeRequest): string | null => {
    const path = pathBelowPrefix(request.originalUrl ?? request.url ?? '/', prefix);
    return path !== null && handler.matches(path) ? path : null;
  };
  const handle = (req: IncomingMessage, res: ServerResponse, next: Next): void => {
    const request = req as ExpressLikeRequest;
    const baseUrl = request.baseUrl ?? '';
    if (baseUrl !== '' && prefix !== baseUrl && !prefix.startsWith(`${baseUrl}/`)) {
      // app.use('/api', tesseraRoutes({ engine })) would serve nothing, silently: say so instead.
      next(new Error(`tesseraRoutes is mounted at ${baseUrl}: pass the full path as its prefix option.`));
      return;
    }
    const path = tesseraPath(request);
    if (path === null) {
      next();
      return;
    }
    // A body parser that ran before us consumed the stream: use what it produced.
    const parsed = request.readableEnded && request.body !== undefined ? { value: request.body } : null;
    toHttpRequest(request, path, request.ip ?? request.socket.remoteAddress ?? '', parsed)
      .then(async (httpRequest) => {
        const response =
          'status' in httpRequest
            ? handler.decorate(httpRequest, flattenHeaders(req.headers))
            : await handler(httpRequest);
        writeNodeResponse(res, response, request.method === 'HEAD');
      })
      .catch(next);
  };
  const handleBodyError = (error: unknown, req: IncomingMessage, res: ServerResponse, next: Next): void => {
    // body-parser's errors carry a `type` ('entity.parse.failed', 'entity.too.large', …); others are the app's.
    const fromBodyParser = typeof (error as { type?: unknown } | null)?.type === 'string';
    const translated =
      fromBodyParser && tesseraPath(req as ExpressLikeRequest) !== null ? hostBodyError(error) : null;
    if (translated === null || res.headersSent) {
      next(error);
      return;
    }
    writeNodeResponse(res, handler.reject(flattenHeaders(req.headers), translated));
  };
  const routes: [typeof handle, typeof handleBodyError] = [handle, handleBodyError];
  return Object.assign(routes, { close: () => handler.close() });
}

/**
 * Express middleware for the app's own routes: requires a Tessera access token (RFC 6750 answers
 * otherwise), puts the session on `req.auth`, and under `sliding-single-token` adds the renewed token
 * headers before the response is sent.
 * @example
 * app.get('/api/orders', requireSession(engine), listOrders);
 */
export function requireSession(
  engine: Engine,
): (
  req: IncomingMessage & { auth?: unknown; ip?: string | undefined },
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void {
  return (req, res, next) => {
    guardSession(engine, {
      authorization: req.headers.authorization,
      ip: req.ip ?? req.socket.remoteAddress ?? '',
      userAgent: req.headers['user-agent'],
    }).then(async (result) => {
      if ('refusal' in result) {
        writeNodeResponse(res, result.refusal);
        return;
      }
      req.auth = result.auth;
      // Renew before the route runs: headers must be set before it writes the response.
      for (const [name, value] of Object.entries(await result.renewedHeaders())) res.setHeader(name, value);
      next();
    }, next);
  };
}
