import type { IncomingMessage, ServerResponse } from 'node:http';
import { handlerInternals, type TesseraHandler } from '../handler.ts';
import { fromNodeRequest, writeNodeResponse } from '../http/node-io.ts';
import type { HttpResponse } from '../http/types.ts';

/**
 * A Node `http` request listener over a Tessera handler: every request is Tessera's (unknown paths are
 * its 404). It reads the request straight from the socket, with no web `Request` built in between, and
 * adds `Connection: close` once the handler is closed, so keep-alive clients leave during a shutdown.
 * @example
 * import { createServer } from 'node:http';
 * createServer(toNodeListener(createHandler({ engine }))).listen(4000);
 */
export function toNodeListener(handler: TesseraHandler): (req: IncomingMessage, res: ServerResponse) => void {
  const { respond } = handlerInternals(handler);
  return (req, res) => {
    respond(fromNodeRequest(req), false).then(
      (response) => send(handler, res, response as HttpResponse, req.method === 'HEAD'),
      () => res.destroy(),
    );
  };
}

/** Writes a handler response, closing the connection after it once the handler is closed. */
export function send(
  handler: TesseraHandler,
  res: ServerResponse,
  response: HttpResponse,
  head: boolean,
): void {
  if (handler.closed) response.headers.connection = 'close';
  writeNodeResponse(res, response, head);
}
