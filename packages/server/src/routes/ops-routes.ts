import { isTesseraError } from '@tessera/core';
import { json } from '../http/error-response.ts';
import type { Route } from '../http/route.ts';

// A load balancer may poll every second: one durable write probe per second is enough, and a failure
// is never reused, so recovery shows at the next poll.
const WRITE_PROBE_REUSE_MS = 1000;

/**
 * `GET /healthz`: liveness and store readiness, writes included. 200 `{status: "ok"}`; 503 with
 * `service_unavailable` when the store cannot be reached, or `storage_full` (and `Retry-After`) when it
 * answers but cannot commit a write, so a load balancer takes the instance out either way.
 */
export function opsRoutes(): Route[] {
  let lastWriteOkMs = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | null = null;
  return [
    {
      method: 'GET',
      path: '/healthz',
      auth: 'none',
      async handle(ctx) {
        try {
          if (performance.now() - lastWriteOkMs < WRITE_PROBE_REUSE_MS) {
            await ctx.routes.engine.ping();
          } else {
            inflight ??= ctx.routes.engine.ping({ write: true }).finally(() => {
              inflight = null;
            });
            await inflight;
            lastWriteOkMs = performance.now();
          }
          return json(200, { status: 'ok' });
        } catch (error) {
          if (isTesseraError(error) && error.code === 'storage_full') {
            return json(
              503,
              { status: 'degraded', error: 'storage_full', error_description: error.message },
              { 'retry-after': String(error.retryAfterSeconds ?? 30) },
            );
          }
          return json(
            503,
            {
              status: 'unavailable',
              error: 'service_unavailable',
              error_description: 'The store is unreachable.',
            },
            { 'retry-after': '5' },
          );
        }
      },
    },
  ];
}
