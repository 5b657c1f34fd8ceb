import { json } from '../http/error-response.ts';
import type { Route } from '../http/route.ts';

/** `GET /healthz` (liveness and store readiness) and `GET /metrics` (Prometheus; service token or loopback). */
export function opsRoutes(): Route[] {
  return [
    {
      method: 'GET',
      path: '/healthz',
      auth: 'none',
      async handle(ctx) {
        try {
          await ctx.routes.engine.ping();
          return json(200, { status: 'ok' });
        } catch {
          return json(503, {
            status: 'unavailable',
            error: 'service_unavailable',
            error_description: 'The store is unreachable.',
          });
        }
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      auth: 'service',
      async handle(ctx) {
        const registry = ctx.routes.metrics?.registry;
        if (!registry)
          return json(404, { error: 'not_found', error_description: 'Metrics are not enabled.' });
        return {
          status: 200,
          headers: { 'content-type': registry.contentType, 'cache-control': 'no-store' },
          body: await registry.metrics(),
        };
      },
    },
  ];
}
