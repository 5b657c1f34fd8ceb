import { Readable } from 'node:stream';
import type { Engine } from '@tessera/core';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorResponse } from '../http/error-response.ts';
import { createRequestHandler } from '../http/handler.ts';
import { flattenHeaders, hostBodyError } from '../http/node-io.ts';
import type { RoutesOptions } from '../http/route.ts';
import { guardSession } from '../http/session-guard.ts';
import { type HttpResponse, MAX_BODY_BYTES } from '../http/types.ts';

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

// The concrete path below the prefix from the route Fastify matched: host router options
// (ignoreTrailingSlash, caseSensitive: false, …) may let a URL match that differs from the pattern.
function concretePath(pattern: string, params: unknown): string {
  const values = (params ?? {}) as Record<string, string | undefined>;
  return pattern.replace(/:([A-Za-z0-9_]+)/g, (_all, name: string) => encodeURIComponent(values[name] ?? ''));
}

/**
 * A Fastify plugin serving every Tessera route. Register it with Fastify's `prefix` option to mount it
 * below a path. Encapsulated (no `fastify-plugin`): its content-type parser (raw bytes up to 16 KB,
 * validated by Tessera) and error handler apply to its own routes only, so the app's routes keep
 * Fastify's parsing and errors. Paths it does not serve reach the app's not-found handler; closing the
 * app ends open revocation streams.
 * @example
 * const app = Fastify();
 * await app.register(tesseraRoutes({ engine }), { prefix: '/api' }); // POST /api/auth/login, …
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
    app.setErrorHandler((error: { code?: unknown; statusCode?: number }, request, reply) => {
      // Errors of our content-type parsing become Tessera's; a host hook's client error stays the host's.
      const ours = typeof error.code === 'string' && error.code.startsWith('FST_ERR_CTP_');
      const translated = ours ? hostBodyError(error) : null;
      if (translated) return send(reply, handler.reject(flattenHeaders(request.headers), translated));
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) throw error;
      return send(reply, errorResponse(error));
    });
    for (const path of handler.paths) {
      app.route({
        method: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
        url: path,
        handler: async (request: FastifyRequest, reply: FastifyReply) => {
          const raw = request.body;
          const response = await handler({
            method: request.method,
            path: concretePath(path, request.params),
            query: new URL(`http://host${request.url}`).searchParams,
            headers: flattenHeaders(request.headers),
            ip: request.ip,
            body: Buffer.isBuffer(raw) ? { kind: 'raw', bytes: raw } : { kind: 'none' },
          });
          return send(reply, response);
        },
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
