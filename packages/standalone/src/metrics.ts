import type { ResponseInfo, Route } from '@tessera/server';

import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one server. Each server has its own registry (no global state). */
export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'route'>;
  events: Counter<'type' | 'reason'>;
  /** Counts one answered request (the handler's `onResponse`). */
  observe(info: ResponseInfo): void;
}

/** Creates the metrics registry, with Node process metrics when `processMetrics` is true. */
export function createMetrics(processMetrics = true): Metrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: 'tessera_' });
  const requests = new Counter({
    name: 'tessera_http_requests_total',
    help: 'HTTP requests by route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'tessera_http_request_duration_seconds',
    help: 'HTTP request duration by route.',
    labelNames: ['route'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [registry],
  });
  return {
    registry,
    requests,
    duration,
    events: new Counter({
      name: 'tessera_events_total',
      help: 'Session events (logins, refreshes, revocations by reason, reuse detections).',
      labelNames: ['type', 'reason'] as const,
      registers: [registry],
    }),
    observe(info) {
      requests.inc({ method: info.method, route: info.route, status: String(info.status) });
      duration.observe({ route: info.route }, info.durationMs / 1000);
    },
  };
}

/** `GET /metrics`: the registry in Prometheus text format, for the service token or loopback callers. */
export function metricsRoute(metrics: Metrics): Route {
  return {
    method: 'GET',
    path: '/metrics',
    auth: 'service',
    async handle() {
      return {
        status: 200,
        headers: { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' },
        body: await metrics.registry.metrics(),
      };
    },
  };
}
