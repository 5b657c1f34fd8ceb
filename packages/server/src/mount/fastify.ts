import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';
import type { Engine } from '@tessera/core';
import type { TesseraClaims } from '@tessera/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHandler, handlerInternals } from '../handler.ts';
import { hostBodyError } from '../http/incoming.ts';
import { nodeSessionGuard } from '../http/node-guard.ts';
import { fromNodeRequest } from '../http/node-io.ts';
import { isRefusal, type RequireSessionOptions } from '../http/require-session.ts';
import type { HandlerOptions } from '../http/route.ts';
import { type HttpResponse, MAX_BODY_BYTES } from '../http/types.ts';

// The same declaration as @tessera/verify's: `request.auth` is the verified access token's claims in both.
declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access-token claims, set by `requireSession` (or `@tessera/verify`'s `requireAuth`). */
    auth?: TesseraClaims;
  }
}

/** Options of the Fastify mount: the handler's; `prefix` adds to the one Fastify's `register` gives. */
export type FastifyMountOptions = HandlerOptions;

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

function send(reply: FastifyReply, response: HttpResponse): FastifyReply {
  reply.code(response.status).headers(response.headers);
  const body = response.body;
  if (body === undefined || typeof body === 'string') return reply.send(body ?? '');
  const stream = Readable.fromWeb(body as NodeWebStream<Uint8Array>);
  // A long-lived stream (server-sent events) ends when the client goes away.
  reply.raw.on('close', () => stream.destroy());
  return reply.send(stream);
}

/**
 * A Fastify plugin serving every Tessera route. Fastify routes one wildcard per mount to it and Tessera's
 * router does the rest (a path it does not serve goes to the app's not-found handler). Mount it below a
 * path with its own `prefix` option, which keeps the RFC 8414 metadata at the server root too, or with
 * Fastify's `register` prefix (then only below it). Encapsulated (no `fastify-plugin`): its
 * content-type parser (raw bytes up to 16 KB, validated by Tessera) and error handler apply to its own
 * routes only; closing the app ends open revocation streams.
 * @example
 * const app = Fastify();
 * await app.register(tesseraRoutes({ engine, prefix: '/api' })); // POST /api/auth/login, …
 */
export function tesseraRoutes(options: FastifyMountOptions): (app: FastifyInstance) => Promise<void> {
  return async (app) => {
    const own = (options.prefix ?? '').replace(/\/+$/, '');
    const handler = createHandler({ ...options, prefix: `${app.prefix}${own}` });
    const { respond } = handlerInternals(handler);
    const config = app.initialConfig as {
      ignoreTrailingSlash?: boolean;
      routerOptions?: { ignoreTrailingSlash?: boolean };
    };
    const ignoreTrailingSlash =
      config.routerOptions?.ignoreTrailingSlash ?? config.ignoreTrailingSlash ?? false;
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
    const answer = async (request: FastifyRequest, reply: FastifyReply, bodyError?: Error) => {
      let target = request.url;
      if (ignoreTrailingSlash) {
        // The host's router matched `/auth/login/` to our wildcard; Tessera's router wants `/auth/login`.
        const query = target.indexOf('?');
        const path = query >= 0 ? target.slice(0, query) : target;
        if (path.length > 1 && path.endsWith('/')) {
          target = path.replace(/\/+$/, '') + (query >= 0 ? target.slice(query) : '');
        }
      }
      const raw = request.body;
      const response = await respond(
        fromNodeRequest(request.raw, {
          target,
          ...(bodyError ? { bodyError } : Buffer.isBuffer(raw) ? { parsedBody: { value: raw } } : {}),
        }),
        true,
      );
      if (response === null) return reply.callNotFound();
      return send(reply, response);
    };
    app.setErrorHandler((error: { code?: unknown; statusCode?: number }, request, reply) => {
      // Errors of our content-type parsing become Tessera's; a host hook's client error stays the host's.
      const ours = typeof error.code === 'string' && error.code.startsWith('FST_ERR_CTP_');
      const translated = ours ? hostBodyError(error) : null;
      if (translated) return answer(request, reply, translated);
      if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) throw error;
      return send(reply, handlerInternals(handler).reject(null, error));
    });
    app.route({ method: [...METHODS], url: `${own}/*`, handler: (request, reply) => answer(request, reply) });
    if (app.prefix === '') {
      // RFC 8414 §3: the metadata is also at the server root, outside the mount prefix.
      const issuerPath = new URL(options.engine.settings.issuer).pathname.replace(/\/+$/, '');
      const rootPath = `/.well-known/oauth-authorization-server${issuerPath}`;
      if (!rootPath.startsWith(`${own}/`)) {
        app.route({
          method: ['GET', 'HEAD', 'OPTIONS'],
          url: rootPath,
          handler: (request, reply) => answer(request, reply),
        });
      }
    }
  };
}

/**
 * A Fastify `preHandler` for the app's own routes: requires a Tessera access token, from
 * `Authorization: Bearer` or else the `tessera_access` cookie (whose unsafe requests must come from an
 * allowed `Origin`; RFC 6750 answers otherwise), puts its claims on `request.auth`, and under
 * `sliding-single-token` adds the renewed token headers (or cookie; Fastify appends `set-cookie`) once
 * the presented token is past half its life.
 * @example
 * app.get('/api/orders', { preHandler: requireSession(engine) }, async (request) => ({ for: request.auth?.sub }));
 */
export function requireSession(
  engine: Engine,
  options: RequireSessionOptions = {},
): (request: FastifyRequest, reply: FastifyReply) => Promise<unknown> {
  const guard = nodeSessionGuard(engine, options);
  return async (request, reply) => {
    const result = await guard(request.raw);
    if (isRefusal(result)) return send(reply, result);
    if (result === null) return undefined;
    request.auth = result.claims as TesseraClaims;
    reply.headers(result.responseHeaders);
    return undefined;
  };
}
