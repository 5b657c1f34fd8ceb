import { createHandler, type TesseraHandler } from '../handler.ts';
import type { HandlerOptions } from '../http/route.ts';

export type { OptionalSessionGuard, SessionAuth, SessionGuard } from '../http/require-session.ts';
export { requireSession } from '../http/require-session.ts';

type RouteHandler = (request: Request) => Promise<Response>;

/** The route handlers of a Next.js App Router catch-all route, one per method. */
export interface NextHandlers {
  GET: RouteHandler;
  HEAD: RouteHandler;
  POST: RouteHandler;
  PUT: RouteHandler;
  PATCH: RouteHandler;
  DELETE: RouteHandler;
  OPTIONS: RouteHandler;
}

/**
 * The handler, or a function that makes it on the first request (and again after a failure): an engine
 * opens asynchronously, and `next build` imports every route module, which must not open the database.
 */
export type NextHandlerSource = TesseraHandler | (() => TesseraHandler | Promise<TesseraHandler>);

/** Options of {@link toNextHandlers}. */
export interface NextHandlersOptions {
  /**
   * Answers a request for a path below the catch-all where Tessera has no route, so the app keeps its
   * own 404 there (`() => notFound()` from `next/navigation`). Default: Tessera's 404 `not_found`.
   */
  notFound?: (request: Request) => Response | Promise<Response>;
}

function isHandler(source: NextHandlerSource): source is TesseraHandler {
  return 'tryHandle' in source;
}

/**
 * Next.js App Router route handlers for a catch-all route (`app/api/[...tessera]/route.ts` with
 * `prefix: '/api'`). Next passes web `Request`s, so each is the handler itself. Next does not expose the
 * socket peer (and keeps an `X-Forwarded-For` the client sent), so Tessera sees no client address:
 * serve service routes with `serviceToken`, and behind a proxy that overwrites `X-Forwarded-For` set
 * `trustProxy: 1`.
 * @example
 * const handler = createHandler({ engine, prefix: '/api' });
 * export const { GET, POST, PATCH, DELETE, OPTIONS } = toNextHandlers(handler);
 * // or, with the engine opened on the first request and the app's own 404 for other paths:
 * export const { GET, POST, PATCH, DELETE, OPTIONS } = toNextHandlers(async () => (await tessera()).handler, {
 *   notFound: () => notFound(),
 * });
 */
export function toNextHandlers(source: NextHandlerSource, options: NextHandlersOptions = {}): NextHandlers {
  let pending: Promise<TesseraHandler> | null = null;
  const resolve = (): Promise<TesseraHandler> => {
    if (isHandler(source)) return Promise.resolve(source);
    pending ??= Promise.resolve()
      .then(source)
      .catch((error: unknown) => {
        pending = null;
        throw error;
      });
    return pending;
  };
  const { notFound } = options;
  const route: RouteHandler = async (request) => {
    const handler = await resolve();
    if (!notFound) return handler(request);
    return (await handler.tryHandle(request)) ?? notFound(request);
  };
  return { GET: route, HEAD: route, POST: route, PUT: route, PATCH: route, DELETE: route, OPTIONS: route };
}

/**
 * The Next.js host in the shape every subpath exports: {@link createHandler} and {@link toNextHandlers}
 * in one call, plus `close()` and the handler.
 * @example
 * export const { GET, POST, PATCH, DELETE, OPTIONS } = tesseraRoutes({ engine, prefix: '/api' });
 */
export function tesseraRoutes(
  options: HandlerOptions,
): NextHandlers & { close(): void; handler: TesseraHandler } {
  const handler = createHandler(options);
  return { ...toNextHandlers(handler), close: () => handler.close(), handler };
}
