import { Readable } from 'node:stream';
import { type Engine, TesseraError } from '@tessera/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorResponse } from '../http/error-response.ts';
import { createRequestHandler } from '../http/handler.ts';
import { flattenHeaders } from '../http/node-io.ts';
import type { RoutesOptions } from '../http/route.ts';
import { guardSession } from '../http/session-guard.ts';
import { type HttpRequest, type HttpResponse, MAX_BODY_BYTES } from '../http/types.ts';

/** Options of the Fastify mount: the shared route options without `prefix` (Fastify's own `prefix` is used). */
export type FastifyMountOptions = Omit<RoutesOptions, 'prefix'>;

function send(reply: FastifyReply, response: HttpResponse): FastifyReply {
  reply.code(response.status).headers(response.headers);
  if (response.body instanceof Readable) {
    const stream = response.body;
    // A long-lived stream (server-sent events) ends when the client goes away.
    reply.raw.on('close', () => stream.destroy());
    return reply.send(stream);
  }
  return reply.send(response.body ?? '');
}

/**
 * A Fastify plugin serving every Tessera route. Register it with Fastify's `prefix` option to mount
 * it below a path; it parses its own bodies (16 KB limit) and leaves the rest of the app alone.
 * @example
 * app.register(tesseraRoutes({ engine }), { prefix: '/api' });
 */
export function tesseraRoutes(options: FastifyMountOptions): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    const prefix = app.prefix;
    const handler = createRequestHandler({ ...options, prefix });
    // preClose: end the revocation streams before the server waits for open connections to finish.
    app.addHook('preClose', async () => handler.close());
    // Our routes read raw bytes and validate them themselves, whatever the content type.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser(
      '*',
      { parseAs: 'buffer', bodyLimit: MAX_BODY_BYTES },
      (_request, body, done) => {
        done(null, body);
      },
    );
    app.setErrorHandler((error: { statusCode?: number; code?: string }, _request, reply) => {
      if (error.statusCode === 413) {
        return send(
          reply,
          errorResponse(
            new TesseraError('payload_too_large', 'The request body must be at most 16384 bytes.'),
          ),
        );
      }
      if (error.statusCode === 415 || error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        return send(
          reply,
          errorResponse(new TesseraError('unsupported_media_type', 'The content type is not supported.')),
        );
      }
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
        return send(reply, errorResponse(new TesseraError('invalid_request', 'The request is malformed.')));
      }
      return send(reply, errorResponse(error));
    });
    const handle = async (request: FastifyRequest, reply: FastifyReply) => {
      const url = new URL(request.url, 'http://host');
      const path = url.pathname.slice(prefix.length) || '/';
      const raw = request.body;
      const httpRequest: HttpRequest = {
        method: request.method,
        path,
        query: url.searchParams,
        headers: flattenHeaders(request.headers),
        ip: request.ip,
        body: Buffer.isBuffer(raw) ? { kind: 'raw', bytes: raw } : { kind: 'none' },
      };
      return send(reply, await handler(httpRequest));
    };
    for (const path of handler.paths) {
      app.route({
        method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
        url: path,
        handler: handle,
      });
    }
  };
}

/**
 * A Fastify `preHandler` for the app's own routes: requires a Tessera access token (RFC 6750 answers
 * otherwise), puts the session on `request.auth`, and under `sliding-single-token` adds the renewed
 * token headers to the reply once the presented token is past half its life.
 * @example
 * app.get('/api/orders', { preHandler: requireSession(engine) }, listOrders);
 */
export function requireSession(
  engine: Engine,
): (request: FastifyRequest, reply: FastifyReply) => Promise<unknown> {
  return async (request, reply) => {
    const result = await guardSession(engine, {
      authorization: request.headers.authorization,
      ip: request.ip,
      userAgent: request.headers['user-agent'],
    });
    if ('refusal' in result) return send(reply, result.refusal);
    (request as FastifyRequest & { auth?: unknown }).auth = result.auth;
    reply.headers(await result.renewedHeaders());
    return undefined;
  };
}
