import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Engine, TesseraError } from '@tessera/core';
import { errorResponse } from '../http/error-response.ts';
import { createRequestHandler } from '../http/handler.ts';
import { toHttpRequest, writeNodeResponse } from '../http/node-io.ts';
import type { RoutesOptions } from '../http/route.ts';
import { guardSession } from '../http/session-guard.ts';
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

/** The Koa context fields `requireSession` reads and writes. */
interface KoaSessionContext {
  get(name: string): string;
  set(headers: Record<string, string>): void;
  ip: string;
  status: number;
  body: unknown;
  state: Record<string, unknown>;
}

/**
 * Koa middleware for the app's own routes: requires a Tessera access token (RFC 6750 answers
 * otherwise), puts the session on `ctx.state.auth`, and under `sliding-single-token` adds the renewed
 * token headers to the response once the presented token is past half its life.
 * @example
 * router.get('/api/orders', requireSession(engine), listOrders);
 */
export function requireSession(
  engine: Engine,
): (ctx: KoaSessionContext, next: () => Promise<unknown>) => Promise<void> {
  return async (ctx, next) => {
    const result = await guardSession(engine, {
      authorization: ctx.get('authorization') || undefined,
      ip: ctx.ip,
      userAgent: ctx.get('user-agent') || undefined,
    });
    if ('refusal' in result) {
      ctx.status = result.refusal.status;
      ctx.set(Object.fromEntries(Object.entries(result.refusal.headers).map(([k, v]) => [k, String(v)])));
      ctx.body = result.refusal.body;
      return;
    }
    ctx.state.auth = result.auth;
    await next();
    ctx.set(await result.renewedHeaders());
  };
}
