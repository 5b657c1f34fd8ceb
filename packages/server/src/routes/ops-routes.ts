import { json } from '../http/error-response.ts';
import type { Route } from '../http/route.ts';

/** `GET /healthz`: liveness and store readiness. */
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
  ];
}
