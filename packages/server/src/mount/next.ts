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
 * Next.js App Router route handlers for a catch-all route (`app/api/[...tessera]/route.ts` with
 * `prefix: '/api'`). Next passes web `Request`s, so each is the handler itself. Next does not expose
 * the peer address: behind a proxy, set `trustProxy` (Next appends the socket address to
 * `X-Forwarded-For`), else service routes need `serviceToken`.
 * @example
 * const handler = createHandler({ engine, prefix: '/api' });
 * export const { GET, POST, PATCH, DELETE, OPTIONS } = toNextHandlers(handler);
 */
export function toNextHandlers(handler: TesseraHandler): NextHandlers {
  const route: RouteHandler = (request) => handler(request);
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
