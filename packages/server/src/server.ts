import {
  type Clock,
  createEngine,
  type Engine,
  type Store,
  TesseraError,
  type TesseraEvent,
} from '@tessera/core';
import Fastify, { type FastifyInstance } from 'fastify';
import type { TesseraConfig } from './config.ts';
import { errorResponse } from './http/error-response.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { tesseraRoutes } from './mount/fastify.ts';
import { openStore } from './open-store.ts';
import { loadOrCreateSecret } from './secret-file.ts';

/** A running (or ready to run) standalone server. */
export interface TesseraServer {
  app: FastifyInstance;
  engine: Engine;
  store: Store;
  metrics: Metrics;
  config: TesseraConfig;
  /** Listens on the configured host and port; resolves to the base URL. */
  listen(): Promise<string>;
  /** Stops accepting requests, then closes the engine and the store. */
  close(): Promise<void>;
}

/** Extra wiring for tests and embedding. */
export interface ServerOverrides {
  clock?: Clock;
  store?: Store;
  demo?: boolean;
  /** argon2id parameters (tests may lower them; production keeps OWASP's). */
  argon2?: { memoryCost: number; timeCost: number; parallelism: number };
  onEvent?: (event: TesseraEvent) => void;
  /** Collect Node process metrics (default true; tests with many servers turn it off). */
  processMetrics?: boolean;
}

/** The Redis-backed bus and rate limiter, for several instances. */
async function openRedis(url: string) {
  const { createRedisBus, createRedisRateLimiter } = await import('@tessera/redis');
  const bus = createRedisBus({ url });
  const rateLimiter = createRedisRateLimiter({ url });
  return {
    bus,
    rateLimiter,
    async close() {
      await bus.close();
      await rateLimiter.close();
    },
  };
}

/**
 * Builds the standalone server from a validated config: opens the store, loads or generates the
 * secret (warning when generated) and the signing keys, and mounts every route on Fastify.
 */
export async function createTesseraServer(
  config: TesseraConfig,
  overrides: ServerOverrides = {},
): Promise<TesseraServer> {
  const store = overrides.store ?? (await openStore(config.databaseUrl));
  const app = Fastify({
    logger:
      config.logLevel === 'silent'
        ? false
        : {
            level: config.logLevel,
            // Never log headers: they carry tokens and cookies.
            serializers: {
              req: (req) => ({ method: req.method, url: req.url.split('?')[0] ?? '', ip: req.ip }),
            },
          },
    trustProxy: config.trustProxy,
    bodyLimit: 16 * 1024,
    routerOptions: { maxParamLength: 1000 },
    forceCloseConnections: 'idle',
    // Requests Fastify refuses before routing (a malformed URL) still get Tessera's error shape.
    frameworkErrors: (_error, _request, reply) => {
      const response = errorResponse(new TesseraError('invalid_request', 'The request URL is malformed.'));
      reply
        .code(400 as never)
        .headers(response.headers)
        .send(response.body as never);
    },
  });
  const { secret, generated, path } = loadOrCreateSecret(config);
  if (generated) {
    app.log.warn(
      `Generated a new secret at ${path}. Keep it (and back it up): refresh tokens and signing keys depend on it. Set TESSERA_SECRET to manage it yourself.`,
    );
  }
  const metrics = createMetrics(overrides.processMetrics ?? true);
  const shared = config.redisUrl ? await openRedis(config.redisUrl) : null;
  const engine = await createEngine({
    store,
    secret,
    issuer: config.issuer,
    audience: config.audience,
    clientId: config.clientId,
    signingAlg: config.signingAlg,
    ...(config.signingThread === null ? {} : { signOffThread: config.signingThread }),
    policy: config.policy,
    accessTtlSeconds: config.accessTtlSeconds,
    softTtlSeconds: config.softTtlSeconds,
    maxLoginAgeSeconds: config.maxLoginAgeSeconds,
    endSessionsOnPasswordChange: config.endSessionsOnPasswordChange,
    refreshIdleTtlSeconds: config.refreshIdleTtlSeconds,
    refreshAbsoluteTtlSeconds: config.refreshAbsoluteTtlSeconds,
    reuseGraceSeconds: config.reuseGraceSeconds,
    clockLeewaySeconds: config.clockLeewaySeconds,
    maxSessionsPerUser: config.maxSessionsPerUser,
    rateLimits: config.rateLimit ? undefined : false,
    ...(shared ? { bus: shared.bus, rateLimiter: shared.rateLimiter } : {}),
    ...(overrides.clock ? { clock: overrides.clock } : {}),
    ...(overrides.argon2 ? { argon2: overrides.argon2 } : {}),
    onEvent(event: TesseraEvent) {
      const reason = event.type === 'session.revoked' ? event.reason : '';
      metrics.events.inc({ type: event.type, reason });
      if (event.type === 'session.reuse_detected') {
        app.log.warn(
          { sessionId: event.sessionId, userId: event.userId },
          'refresh token reuse detected; session revoked',
        );
      }
      overrides.onEvent?.(event);
    },
  } as Parameters<typeof createEngine>[0]);
  const stopSweeper = engine.startSweeper();

  await app.register(
    tesseraRoutes({
      engine,
      cookieSecure: config.cookieSecure,
      allowedOrigins: config.allowedOrigins,
      serviceToken: config.serviceToken,
      demo: overrides.demo ?? false,
      metrics,
      ...(overrides.clock ? { clock: overrides.clock } : {}),
    }),
  );
  app.setNotFoundHandler((_request, reply) => {
    const response = errorResponse(new TesseraError('not_found', 'No such route.'));
    return reply.code(response.status).headers(response.headers).send(response.body);
  });

  return {
    app,
    engine,
    store,
    metrics,
    config,
    async listen() {
      await app.listen({ port: config.port, host: config.host });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    },
    async close() {
      stopSweeper();
      // Graceful but bounded: in-flight requests get a second, then lingering connections
      // (a resource service's revocation stream, say) are cut.
      const force = setTimeout(() => app.server.closeAllConnections(), 1000);
      await app.close();
      clearTimeout(force);
      await engine.close();
      await shared?.close();
      await store.close();
    },
  };
}
