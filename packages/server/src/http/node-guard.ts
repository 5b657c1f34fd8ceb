import type { IncomingMessage } from 'node:http';
import type { Engine } from '@tessera/core';
import { createClientIpResolver } from './client-ip.ts';
import { fromNodeRequest } from './node-io.ts';
import {
  guardRequest,
  guardSettings,
  type RequireSessionOptions,
  type SessionAuth,
} from './require-session.ts';
import type { HttpResponse } from './types.ts';

/**
 * `requireSession`'s core for the Node hosts (node:http, Express, Koa, Fastify): reads the method,
 * headers and client address straight from the `IncomingMessage`, then {@link guardRequest}.
 */
export function nodeSessionGuard(
  engine: Engine,
  options: RequireSessionOptions = {},
): (message: IncomingMessage) => Promise<SessionAuth | HttpResponse | null> {
  const resolveIp = createClientIpResolver(options.trustProxy ?? null);
  const settings = guardSettings(engine, options);
  return (message) => {
    const incoming = fromNodeRequest(message);
    return guardRequest(
      engine,
      {
        method: incoming.method,
        headers: incoming.headers,
        ip: resolveIp(incoming.peer, incoming.headers.get('x-forwarded-for')),
        // Express rewrites `url` below a mounted router; `originalUrl` is what the client sent.
        path: ((message as { originalUrl?: string }).originalUrl ?? message.url ?? '/').split(
          '?',
        )[0] as string,
      },
      settings,
    );
  };
}
