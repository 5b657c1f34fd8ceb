import { json } from '../http/error-response.ts';
import type { Route, RouteContext } from '../http/route.ts';
import { createRevocationFeed, type RevocationFeed } from '../revocation-feed.ts';

/**
 * `GET /auth/revocations` (snapshot with a cursor) and `GET /auth/revocations/stream` (server-sent
 * events, resumable with `Last-Event-ID` or `?cursor=`, heartbeats). For resource services: the service
 * token or loopback. The feed starts with the first request and lives as long as the mount.
 */
export function revocationRoutes(base: string): { routes: Route[]; close(): void } {
  let feed: Promise<RevocationFeed> | undefined;
  let ready: RevocationFeed | undefined;
  let closed = false;
  const getFeed = (ctx: RouteContext): Promise<RevocationFeed> => {
    feed ??= createRevocationFeed({ engine: ctx.routes.engine, clock: ctx.routes.clock }).then(
      (created) => {
        ready = created;
        if (closed) created.close();
        return created;
      },
      (error: unknown) => {
        feed = undefined;
        throw error;
      },
    );
    return feed;
  };
  return {
    routes: [
      {
        method: 'GET',
        path: `${base}/revocations`,
        auth: 'service',
        async handle(ctx) {
          return json(200, (await getFeed(ctx)).snapshot());
        },
      },
      {
        method: 'GET',
        path: `${base}/revocations/stream`,
        auth: 'service',
        async handle(ctx) {
          const cursor = ctx.request.headers['last-event-id'] ?? ctx.request.query.get('cursor') ?? undefined;
          return {
            status: 200,
            headers: {
              'content-type': 'text/event-stream; charset=utf-8',
              'cache-control': 'no-store',
              'x-accel-buffering': 'no',
            },
            body: (await getFeed(ctx)).stream(cursor),
          };
        },
      },
    ],
    close() {
      // Synchronous where possible: the host waits for open streams right after this returns.
      closed = true;
      ready?.close();
    },
  };
}
