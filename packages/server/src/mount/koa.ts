import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Engine } from '@tessera/core';
import { createRequestHandler } from '../http/handler.ts';
import { flattenHeaders, pathBelowPrefix, toHttpRequest } from '../http/node-io.ts';
import type { RoutesOptions } from '../http/route.ts';
import { guardSession } from '../http/session-guard.ts';
import type { HttpResponse } from '../http/types.ts';

/** The Koa context fields a response is written to (structural, so Koa stays an optional peer). */
interface KoaReply {
  status: number;
  body: unknown;
  set(headers: Record<string, string | string[]>): void;
  remove(name: string): void;
}

/** The Koa context fields the mount reads and writes. */
interface KoaLikeContext extends KoaReply {
  req: IncomingMessage;
  originalUrl: string;
  ip: string;
  /** `body` and `rawBody` are set by a body parser (`@koa/bodyparser`) that ran before Tessera. */
  request: { body?: unknown; rawBody?: unknown };
}

/** What {@link tesseraRoutes} returns: Koa middleware, and `close()` to end open revocation streams. */
export type KoaRoutes = ((ctx: KoaLikeContext, next: () => Promise<unknown>) => Promise<void>) & {
  close(): void;
};

const EMPTY_STATUSES = new Set([204, 205, 304]);

// Koa writes the response itself (after the middleware above us ran), so HEAD, lengths and stream
// clean-up stay Koa's, and outer middleware (loggers, compression) sees the real status.
function send(ctx: KoaReply, response: HttpResponse): void {
  ctx.status = response.status;
  ctx.set(response.headers);
  if (response.body instanceof Readable || typeof response.body === 'string') {
    ctx.body = response.body;
  } else if (!EMPTY_STATUSES.has(response.status)) {
    // An empty 200: without a body Koa would write its status message.
    ctx.body = '';
    ctx.remove('content-type');
  }
}

/**
 * Koa middleware serving every Tessera route at `prefix` (default ''); requests for other paths go on
 * to the next middleware. Mount it before the app's body parser (Tessera reads its own bodies); a body a
 * parser already read is used (`ctx.request.rawBody` when the parser keeps it, else `ctx.request.body`).
 * `prefix` is the full path, also under `koa-mount`.
 * @example
 * const app = new Koa();
 * const tessera = tesseraRoutes({ engine, prefix: '/api' }); // POST /api/auth/login, …
 * app.use(tessera);
 * // on shutdown: tessera.close(); server.close();
 */
export function tesseraRoutes(options: RoutesOptions): KoaRoutes {
  const handler = createRequestHandler(options);
  const prefix = handler.settings.prefix;
  const middleware = async (ctx: KoaLikeContext, next: () => Promise<unknown>): Promise<void> => {
    const path = pathBelowPrefix(ctx.originalUrl, prefix);
    if (path === null || !handler.matches(path)) {
      await next();
      return;
    }
    const { rawBody, body } = ctx.request;
    const parsed = !ctx.req.readableEnded
      ? null
      : typeof rawBody === 'string'
        ? { value: rawBody }
        : body !== undefined
          ? { value: body }
          : null;
    const httpRequest = await toHttpRequest(ctx.req, path, ctx.ip, parsed);
    send(
      ctx,
      'status' in httpRequest
        ? handler.decorate(httpRequest, flattenHeaders(ctx.req.headers))
        : await handler(httpRequest),
    );
  };
  return Object.assign(middleware, { close: () => handler.close() });
}

/** The Koa context fields `requireSession` reads and writes. */
interface KoaSessionContext extends KoaReply {
  get(name: string): string;
  ip: string;
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
      send(ctx, result.refusal);
      return;
    }
    ctx.state.auth = result.auth;
    await next();
    ctx.set(await result.renewedHeaders());
  };
}
