import type { Engine } from '@tessera/core';
import type { TesseraClaims } from '@tessera/protocol';
import type { Context, MiddlewareHandler } from 'hono';
import { createHandler, type TesseraHandler } from '../handler.ts';
import type { HostRequestInfo } from '../http/incoming.ts';
import {
  type OptionalSessionGuard,
  type RequireSessionOptions,
  requireSession as webRequireSession,
} from '../http/require-session.ts';
import type { HandlerOptions } from '../http/route.ts';

declare module 'hono' {
  interface ContextVariableMap {
    /** The verified access-token claims, set by `requireSession`. */
    auth: TesseraClaims;
  }
}

/** Options of the Hono mount: the handler's, and how to find the client's address. */
export interface HonoMountOptions extends HandlerOptions {
  /** The socket peer's address. Default: `@hono/node-server`'s `c.env.incoming.socket`, else unknown. */
  peerAddress?: (c: Context) => string | undefined;
}

/** What {@link tesseraRoutes} returns: Hono middleware, `close()`, and the handler. */
export type HonoRoutes = MiddlewareHandler & { close(): void; handler: TesseraHandler };

function nodePeer(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

async function hostInfo(c: Context, peer: (c: Context) => string | undefined): Promise<HostRequestInfo> {
  const ip = peer(c);
  // A middleware before us read the body through Hono (`c.req.json()`): Hono kept it, the stream is gone.
  const parsed = Object.keys(c.req.bodyCache).length > 0 ? { value: await c.req.text() } : undefined;
  return { ...(ip ? { ip } : {}), ...(parsed ? { parsedBody: parsed } : {}) };
}

/**
 * Hono middleware serving every Tessera route at `prefix`; other paths go on to the app's routes. Hono
 * passes web `Request`s, so this only asks the handler and falls through when it has no route.
 * @example
 * const app = new Hono();
 * app.use(tesseraRoutes({ engine, prefix: '/api' })); // POST /api/auth/login, …
 */
export function tesseraRoutes(options: HonoMountOptions): HonoRoutes {
  const { peerAddress = nodePeer, ...handlerOptions } = options;
  const handler = createHandler(handlerOptions);
  const middleware: MiddlewareHandler = async (c, next): Promise<Response | undefined> => {
    const response = await handler.tryHandle(c.req.raw, await hostInfo(c, peerAddress));
    if (response === null) {
      await next();
      return undefined;
    }
    return response;
  };
  return Object.assign(middleware, { close: () => handler.close(), handler });
}

/**
 * Hono middleware for the app's own routes: requires a Tessera access token, from `Authorization:
 * Bearer` or else the `tessera_access` cookie (whose unsafe requests must come from an allowed
 * `Origin`; RFC 6750 answers otherwise), sets `c.get('auth')` to its claims, and under
 * `sliding-single-token` adds the renewed token headers (or cookie).
 * @example
 * app.get('/api/orders', requireSession(engine), (c) => c.json({ for: c.get('auth').sub }));
 */
export function requireSession(
  engine: Engine,
  options: RequireSessionOptions & { peerAddress?: (c: Context) => string | undefined } = {},
): MiddlewareHandler {
  const { peerAddress = nodePeer, ...guardOptions } = options;
  const guard: OptionalSessionGuard = webRequireSession(engine, guardOptions);
  return async (c, next): Promise<Response | undefined> => {
    const ip = peerAddress(c);
    const result = await guard(c.req.raw, ip ? { ip } : {});
    if (result instanceof Response) return result;
    if (result === null) {
      await next();
      return undefined;
    }
    c.set('auth', result.claims as TesseraClaims);
    for (const [name, value] of Object.entries(result.responseHeaders)) {
      c.header(name, value, name === 'set-cookie' ? { append: true } : {});
    }
    await next();
    return undefined;
  };
}
