import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';
import type { Engine } from '@tessera/core';
import type { TesseraClaims } from '@tessera/protocol';
import type {} from 'koa';
import { createHandler, handlerInternals, type TesseraHandler } from '../handler.ts';
import { nodeSessionGuard } from '../http/node-guard.ts';
import { fromNodeRequest } from '../http/node-io.ts';
import { isRefusal, type RequireSessionOptions } from '../http/require-session.ts';
import type { HandlerOptions } from '../http/route.ts';
import type { HttpResponse } from '../http/types.ts';

declare module 'koa' {
  interface DefaultState {
    /** The verified access-token claims, set by `requireSession`. */
    auth?: TesseraClaims;
  }
}

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
  /** `body` and `rawBody` are set by a body parser (`@koa/bodyparser`) that ran before Tessera. */
  request: { body?: unknown; rawBody?: unknown };
}

/** What {@link tesseraRoutes} returns: Koa middleware, and `close()` to end open revocation streams. */
export type KoaRoutes = ((ctx: KoaLikeContext, next: () => Promise<unknown>) => Promise<void>) & {
  close(): void;
  handler: TesseraHandler;
};

const EMPTY_STATUSES = new Set([204, 205, 304]);

// Koa writes the response itself (after the middleware above us ran), so HEAD, lengths and stream
// clean-up stay Koa's, and outer middleware (loggers, compression) sees the real status.
function send(ctx: KoaReply, response: HttpResponse): void {
  ctx.status = response.status;
  ctx.set(response.headers);
  const body = response.body;
  if (typeof body === 'string') {
    ctx.body = body;
  } else if (body !== undefined) {
    ctx.body = Readable.fromWeb(body as NodeWebStream<Uint8Array>);
  } else if (!EMPTY_STATUSES.has(response.status)) {
    // An empty 200 (or the headers of a HEAD): without a body Koa would write its status message.
    ctx.body = '';
    if (response.headers['content-type'] === undefined) ctx.remove('content-type');
  }
}

/**
 * Koa middleware serving every Tessera route at `prefix` (default ''); requests for other paths go on
 * to the next middleware. Mount it before the app's body parser (Tessera reads its own bodies); a body a
 * parser already read is used (`ctx.request.rawBody` when the parser keeps it, else `ctx.request.body`).
 * `prefix` is the full path, also under `koa-mount`. The client address is the socket's, or per
 * `trustProxy` (Koa's `app.proxy` is not read).
 * @example
 * const app = new Koa();
 * const tessera = tesseraRoutes({ engine, prefix: '/api' }); // POST /api/auth/login, …
 * app.use(tessera);
 * // on shutdown: tessera.close(); server.close();
 */
export function tesseraRoutes(options: HandlerOptions): KoaRoutes {
  const handler = createHandler(options);
  const { respond } = handlerInternals(handler);
  const middleware = async (ctx: KoaLikeContext, next: () => Promise<unknown>): Promise<void> => {
    const { rawBody, body } = ctx.request;
    const parsed = !ctx.req.readableEnded
      ? undefined
      : typeof rawBody === 'string'
        ? { value: rawBody }
        : body !== undefined
          ? { value: body }
          : undefined;
    const response = await respond(
      fromNodeRequest(ctx.req, { target: ctx.originalUrl, ...(parsed ? { parsedBody: parsed } : {}) }),
      true,
    );
    if (response === null) {
      await next();
      return;
    }
    send(ctx, response);
  };
  return Object.assign(middleware, { close: () => handler.close(), handler });
}

/** The Koa context fields `requireSession` reads and writes. */
interface KoaSessionContext extends KoaReply {
  req: IncomingMessage;
  append(name: string, value: string): void;
  state: { auth?: TesseraClaims };
}

/**
 * Koa middleware for the app's own routes: requires a Tessera access token, from `Authorization:
 * Bearer` or else the `tessera_access` cookie (whose unsafe requests must come from an allowed
 * `Origin`; RFC 6750 answers otherwise), puts its claims on `ctx.state.auth`, and under
 * `sliding-single-token` adds the renewed token headers (or cookie) once the presented token is past
 * half its life.
 * @example
 * router.get('/api/orders', requireSession(engine), (ctx) => { ctx.body = { for: ctx.state.auth?.sub }; });
 */
export function requireSession(
  engine: Engine,
  options: RequireSessionOptions = {},
): (ctx: KoaSessionContext, next: () => Promise<unknown>) => Promise<void> {
  const guard = nodeSessionGuard(engine, options);
  return async (ctx, next) => {
    const result = await guard(ctx.req);
    if (isRefusal(result)) {
      send(ctx, result);
      return;
    }
    if (result === null) {
      await next();
      return;
    }
    ctx.state.auth = result.claims as TesseraClaims;
    await next();
    for (const [name, value] of Object.entries(result.responseHeaders)) {
      // After the route ran: append a cookie to the ones it set, never replace them.
      if (name === 'set-cookie') ctx.append(name, value);
      else ctx.set({ [name]: value });
    }
  };
}
