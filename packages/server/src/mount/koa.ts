import type { IncomingMessage, ServerResponse } from 'node:http';
import { TesseraError } from '@tessera/core';
import { errorResponse } from '../http/error-response.ts';
import { createRequestHandler } from '../http/handler.ts';
import { toHttpRequest, writeNodeResponse } from '../http/node-io.ts';
import type { RoutesOptions } from '../http/route.ts';
import { MAX_BODY_BYTES } from '../http/types.ts';

/** The Koa context fields the mount reads (structural, so Koa stays an optional peer). */
interface KoaLikeContext {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  ip: string;
  method: string;
  request: { body?: unknown };
  respond?: boolean;
}

/**
 * Koa middleware serving every Tessera route at `prefix` (default ''). Requests for other paths go
 * on to the next middleware. A body a Koa body parser already read (`ctx.request.body`) is used as is.
 * @example
 * app.use(tesseraRoutes({ engine, prefix: '/api' }));
 */
export function tesseraRoutes(
  options: RoutesOptions,
): (ctx: KoaLikeContext, next: () => Promise<unknown>) => Promise<void> {
  const handler = createRequestHandler(options);
  const prefix = handler.settings.prefix;
  return async (ctx, next) => {
    if (!ctx.path.startsWith(prefix) || !handler.matches(ctx.path.slice(prefix.length) || '/')) {
      await next();
      return;
    }
    const parsed =
      ctx.req.readableEnded && ctx.request.body !== undefined ? { value: ctx.request.body } : null;
    if (parsed && Number(ctx.req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) {
      ctx.respond = false;
      writeNodeResponse(
        ctx.res,
        errorResponse(
          new TesseraError('payload_too_large', `The request body must be at most ${MAX_BODY_BYTES} bytes.`),
        ),
      );
      return;
    }
    const httpRequest = await toHttpRequest(ctx.req, ctx.path.slice(prefix.length) || '/', ctx.ip, parsed);
    const response = 'status' in httpRequest ? httpRequest : await handler(httpRequest);
    // Koa must not write its own response on top of ours.
    ctx.respond = false;
    writeNodeResponse(ctx.res, response, ctx.method === 'HEAD');
  };
}
