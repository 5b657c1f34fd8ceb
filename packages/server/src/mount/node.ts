import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Engine, TesseraError } from '@tessera/core';
import type { TesseraClaims } from '@tessera/protocol';
import { createHandler, handlerInternals, type TesseraHandler } from '../handler.ts';
import { nodeSessionGuard } from '../http/node-guard.ts';
import { fromNodeRequest, writeNodeResponse } from '../http/node-io.ts';
import { isRefusal, type RequireSessionOptions } from '../http/require-session.ts';
import type { HandlerOptions } from '../http/route.ts';

/** A Node request listener (what `http.createServer` takes). */
export type NodeListener = (req: IncomingMessage, res: ServerResponse) => void;

/** Options of {@link toNodeListener}. */
export interface NodeListenerOptions {
  /** The app's own listener, for requests at paths Tessera has no route for. Default: Tessera's 404. */
  fallback?: NodeListener;
}

/**
 * A Node `http` request listener over a Tessera handler. It reads the request straight from the
 * socket, with no web `Request` built in between (the public contract stays `Request` → `Response`;
 * this is the Node hosts' fast path), and adds `Connection: close` once the handler is closed, so
 * keep-alive clients leave during a shutdown. Paths Tessera has no route for go to `fallback`. Create
 * the server with `requireHostHeader: false` so a Host-less HTTP/1.1 request gets Tessera's 400 (with
 * the security headers) rather than Node's bare one.
 * @example
 * import { createServer } from 'node:http';
 * createServer(toNodeListener(createHandler({ engine }))).listen(4000);
 */
export function toNodeListener(handler: TesseraHandler, options: NodeListenerOptions = {}): NodeListener {
  const { respond, reject } = handlerInternals(handler);
  const fallback = options.fallback;
  return (req, res) => {
    // RFC 9112 §3.2: an HTTP/1.1 request without Host is a 400. Node would answer it itself, bare (no
    // error shape, no security headers), unless the server sets `requireHostHeader: false`; then it is ours.
    if (req.httpVersion === '1.1' && req.headers.host === undefined) {
      const error = new TesseraError('invalid_request', 'An HTTP/1.1 request must carry a Host header.');
      writeNodeResponse(res, reject(null, error), req.method === 'HEAD', true);
      return;
    }
    respond(fromNodeRequest(req), fallback !== undefined).then(
      (response) => {
        if (response === null) (fallback as NodeListener)(req, res);
        else writeNodeResponse(res, response, req.method === 'HEAD', handler.closed);
      },
      () => res.destroy(),
    );
  };
}

/**
 * The Node host in the shape every subpath exports: {@link createHandler} and {@link toNodeListener} in
 * one call; `close()` ends open revocation streams.
 * @example
 * const tessera = tesseraRoutes({ engine, prefix: '/api', fallback: app });
 * createServer(tessera).listen(3000);
 */
export function tesseraRoutes(
  options: HandlerOptions & NodeListenerOptions,
): NodeListener & { close(): void; handler: TesseraHandler } {
  const { fallback, ...handlerOptions } = options;
  const handler = createHandler(handlerOptions);
  const listener = toNodeListener(handler, fallback ? { fallback } : {});
  return Object.assign(listener, { close: () => handler.close(), handler });
}

/**
 * Node (and Express) middleware for the app's own routes: requires a Tessera access token of a live
 * session, from `Authorization: Bearer` or else the `tessera_access` cookie (whose unsafe requests must
 * come from an allowed `Origin`; RFC 6750 answers otherwise), puts its claims on `req.auth`, and under
 * `sliding-single-token` sets the renewed token headers (or cookie) before `next` runs.
 * @example
 * const session = requireSession(engine);
 * session(req, res, () => res.end(JSON.stringify({ for: req.auth?.sub })));
 */
export function requireSession(
  engine: Engine,
  options: RequireSessionOptions = {},
): (
  req: IncomingMessage & { auth?: TesseraClaims },
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void {
  const guard = nodeSessionGuard(engine, options);
  return (req, res, next) => {
    guard(req).then((result) => {
      if (isRefusal(result)) {
        writeNodeResponse(res, result, req.method === 'HEAD');
        return;
      }
      if (result === null) {
        next();
        return;
      }
      req.auth = result.claims as TesseraClaims;
      for (const [name, value] of Object.entries(result.responseHeaders)) {
        // Keep the cookies the app sets too: append, never replace.
        if (name === 'set-cookie') res.appendHeader(name, value);
        else res.setHeader(name, value);
      }
      next();
    }, next);
  };
}
