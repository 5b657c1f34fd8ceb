import { Counter, collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Prometheus metrics of one server. Each server has its own registry (no global state). */
export interface Metrics {
  registry: Registry;
  requests: Counter<'method' | 'route' | 'status'>;
  duration: Histogram<'route'>;
  events: Counter<'type' | 'reason'>;
}

/** Creates the metrics registry, with Node process metrics when `processMetrics` is true. */
export function createMetrics(processMetrics = true): Metrics {
  const registry = new Registry();
  if (processMetrics) collectDefaultMetrics({ register: registry, prefix: 'tessera_' });
  return {
    registry,
    requests: new Counter({
      name: 'tessera_http_requests_total',
      help: 'HTTP requests by route and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'tessera_http_request_duration_seconds',
      help: 'HTTP request duration by route.',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    events: new Counter({
      name: 'tessera_events_total',
      help: 'Session events (logins, refreshes, revocations by reason, reuse detections).',
      labelNames: ['type', 'reason'],
      registers: [registry],
    }),
  };
}
