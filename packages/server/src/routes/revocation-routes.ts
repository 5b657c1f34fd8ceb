import { TesseraError } from '@tessera/core';
import { json } from '../http/error-response.ts';
import type { Route, RouteContext } from '../http/route.ts';
import type { HttpResponse } from '../http/types.ts';
import { createRevocationFeed, type RevocationFeed } from '../revocation-feed.ts';

/** How many revocation streams may be open at once. */
export interface StreamLimits {
  /** Per client address. */
  perCaller: number;
  total: number;
}

const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
} as const;

/**
 * `GET /auth/revocations` (snapshot with a cursor) and `GET /auth/revocations/stream` (server-sent
 * events, resumable with `Last-Event-ID` or `?cursor=`, heartbeats). For resource services: the service
 * token or loopback. Open streams are capped per client address and in total (429 with `Retry-After`
 * past either); `HEAD` on the stream answers its headers without opening one. The feed starts with the
 * first request and lives as long as the handler.
 */
export function revocationRoutes(base: string, limits: StreamLimits): { routes: Route[]; close(): void } {
  let feed: Promise<RevocationFeed> | undefined;
  let ready: RevocationFeed | undefined;
  let closed = false;
  const perCaller = new Map<string, number>();
  let total = 0;
  const getFeed = (ctx: RouteContext): Promise<RevocationFeed> => {
    feed ??= createRevocationFeed({
      engine: ctx.routes.engine,
      clock: ctx.routes.clock,
      ...(ctx.routes.steadyClock ? { steadyClock: ctx.routes.steadyClock } : {}),
    }).then(
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
  const openStream = async (ctx: RouteContext): Promise<HttpResponse> => {
    const caller = ctx.request.ip;
    if (total >= limits.total || (perCaller.get(caller) ?? 0) >= limits.perCaller) {
      throw new TesseraError(
        'rate_limited',
        'Too many revocation streams are open; close one or retry later.',
        {
          retryAfterSeconds: 5,
        },
      );
    }
    const cursor = ctx.request.headers.get('last-event-id') ?? ctx.request.query.get('cursor') ?? undefined;
    const opened = await getFeed(ctx);
    total += 1;
    perCaller.set(caller, (perCaller.get(caller) ?? 0) + 1);
    const body = opened.stream(cursor, () => {
      total -= 1;
      const left = (perCaller.get(caller) ?? 1) - 1;
      if (left > 0) perCaller.set(caller, left);
      else perCaller.delete(caller);
    });
    return { status: 200, headers: { ...STREAM_HEADERS }, body };
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
          if (ctx.request.method === 'HEAD') return { status: 200, headers: { ...STREAM_HEADERS } };
          return openStream(ctx);
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
