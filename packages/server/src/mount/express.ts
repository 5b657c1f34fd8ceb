import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Engine, TesseraError } from '@tessera/core';
import { errorResponse } from '../http/error-response.ts';
import { createRequestHandler } from '../http/handler.ts';
import { toHttpRequest, writeNodeResponse } from '../http/node-io.ts';
import type { RoutesOptions } from '../http/route.ts';
import { guardSession } from '../http/session-guard.ts';
import { MAX_BODY_BYTES } from '../http/types.ts';

/** Express request fields the mount reads (kept structural so Express stays an optional peer). */
interface ExpressLikeRequest extends IncomingMessage {
  originalUrl?: string;
  ip?: string | undefined;
  body?: unknown;
  _body?: boolean;
}

/**
 * Express middleware serving every Tessera route at `prefix` (default ''). Put it before body
 * parsers, or after them: a body `express.json()` already parsed is used as is.
 * @example
 * app.use(tesseraRoutes({ engine, prefix: '/api' }));
 */
export function tesseraRoutes(
  options: RoutesOptions,
): (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void {
  const handler = createRequestHandler(options);
  const prefix = handler.settings.prefix;
  return (req, res, next) => {
    const request = req as ExpressLikeRequest;
    const pathname = new URL(request.originalUrl ?? request.url ?? '/', 'http://host').pathname;
    if (!pathname.startsWith(prefix) || !handler.matches(pathname.slice(prefix.length) || '/')) {
      next();
      return;
    }
    // A body parser that ran before us (express.json()) consumed the stream: use what it parsed, but
    // keep Tessera's own size limit.
    const parsed =
      request.body !== undefined && (request._body === true || request.readableEnded)
        ? { value: request.body }
        : null;
    if (parsed && Number(request.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      writeNodeResponse(
        res,
        errorResponse(
          new TesseraError('payload_too_large', `The request body must be at most ${MAX_BODY_BYTES} bytes.`),
        ),
      );
      return;
    }
    toHttpRequest(
      request,
      pathname.slice(prefix.length) || '/',
      request.ip ?? request.socket.remoteAddress ?? '',
      parsed,
    )
      .then(async (httpRequest) => {
        const response = 'status' in httpRequest ? httpRequest : await handler(httpRequest);
        writeNodeResponse(res, response, request.method === 'HEAD');
      })
      .catch(next);
  };
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
