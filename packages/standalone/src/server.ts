import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import {
  type Argon2Params,
  type Clock,
  createEngine,
  type Engine,
  type Store,
  type TesseraEvent,
  type WebhookDeliver,
} from '@tessera/core';
import { createStandardWebhooksSender } from '@tessera/core/webhooks';
import { createHandler, SECURITY_HEADERS, type TesseraHandler } from '@tessera/server';
import { toNodeListener } from '@tessera/server/node';
import type { TesseraConfig } from './config.ts';
import { createLogger, type Logger } from './log.ts';
import { createMetrics, type Metrics, metricsRoute } from './metrics.ts';
import { openRedis, openStore, type SharedServices } from './open-store.ts';
import { demoRoutes } from './routes/demo-routes.ts';
import { loadOrCreateSecret } from './secret-file.ts';

/** A running (or ready to run) standalone server. */
export interface TesseraServer {
  /** The Node HTTP server (listening once {@link listen} resolved). */
  http: Server;
  handler: TesseraHandler;
  engine: Engine;
  store: Store;
  metrics: Metrics;
  config: TesseraConfig;
  log: Logger;
  /** Listens on the configured host and port; resolves to the base URL. */
  listen(): Promise<string>;
  /** Answers new requests 503, lets in-flight ones finish (a second at most), then closes the engine and store. */
  close(): Promise<void>;
}

/** Extra wiring for tests and embedding. */
export interface ServerOverrides {
  clock?: Clock;
  store?: Store;
  demo?: boolean;
  /** argon2id parameters (tests may lower them; production keeps OWASP's). */
  argon2?: Argon2Params;
  onEvent?: (event: TesseraEvent) => void;
  /** Collect Node process metrics (default true; tests with many servers turn it off). */
  processMetrics?: boolean;
  /** Where log lines go (default: stderr). */
  writeLog?: (line: string) => void;
  /** Delivers webhook events instead of the Standard Webhooks sender TESSERA_WEBHOOK_URL configures. */
  deliver?: WebhookDeliver;
}

const CLIENT_ERRORS: Readonly<Record<string, [number, string, string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request_timeout', 'The request took too long to arrive.'],
  HPE_HEADER_OVERFLOW: [431, 'invalid_request', 'The request headers are too large.'],
};

/**
 * The answer to a request Node's HTTP parser refused or timed out before it reached the handler (a
 * malformed request line, oversized headers, a body trickling past the request timeout): Tessera's
 * error shape and security headers, then the connection closes.
 */
function clientErrorResponse(code: string | undefined): string {
  const [status, error, description] = CLIENT_ERRORS[code ?? ''] ?? [
    400,
    'invalid_request',
    'The request is malformed.',
  ];
  const body = JSON.stringify({ error, error_description: description });
  const headers = {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...SECURITY_HEADERS,
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}`);
  return `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** The engine over an opened store, with the configured policy and limits, counting events in `metrics`. */
function startEngine(
  config: TesseraConfig,
  overrides: ServerOverrides,
  store: Store,
  secret: Uint8Array,
  shared: SharedServices | null,
  metrics: Metrics,
  log: Logger,
): Promise<Engine> {
  const deliver =
    overrides.deliver ??
    (config.webhookUrl && config.webhookSecret
      ? createStandardWebhooksSender({ url: config.webhookUrl, secret: config.webhookSecret })
      : undefined);
  return createEngine({
    ...config.engine,
    store,
    secret,
    ...(deliver ? { deliver } : {}),
    // Redis also holds the DPoP replay cache, so a proof replayed to another instance is refused too.
    ...(shared
      ? { bus: shared.bus, rateLimiter: shared.rateLimiter, dpopReplayCache: shared.rateLimiter }
      : {}),
    ...(overrides.clock ? { clock: overrides.clock } : {}),
    ...(overrides.argon2 ? { argon2: overrides.argon2 } : {}),
    onEvent(event: TesseraEvent) {
      const reason = event.type === 'session.revoked' ? event.reason : '';
      metrics.events.inc({ type: event.type, reason });
      if (event.type === 'webhook.failed' && event.dead) {
        log.warn('webhook event dead after its last attempt; replay it with tessera webhooks replay', {
          eventId: event.eventId,
          eventType: event.eventType,
          error: event.error,
        });
      }
      if (event.type === 'session.reuse_detected') {
        log.warn('refresh token reuse detected; session revoked', {
          sessionId: event.sessionId,
          userId: event.userId,
        });
      }
      if (event.type === 'session.dpop_mismatch') {
        log.warn('DPoP-bound session presented without its key; refused, session kept', {
          sessionId: event.sessionId,
          userId: event.userId,
          proof: event.proof,
        });
      }
      overrides.onEvent?.(event);
    },
  });
}

/**
 * Builds the standalone server from a validated config: opens the store (and Redis when configured),
 * loads or generates the secret (warning when generated) and the signing keys, and serves the Tessera
 * handler on `node:http` with request, header and keep-alive timeouts.
 */
export async function createTesseraServer(
  config: TesseraConfig,
  overrides: ServerOverrides = {},
): Promise<TesseraServer> {
  const log = createLogger({
    level: config.logLevel,
    format: config.logFormat,
    ...(overrides.writeLog ? { write: overrides.writeLog } : {}),
  });
  for (const deprecation of config.deprecations) log.warn(deprecation);
  for (const warning of config.warnings) log.warn(warning);
  const store = overrides.store ?? (await openStore(config.databaseUrl, { dataDir: config.dataDir }));
  let shared: SharedServices | null = null;
  let engine: Engine;
  const metrics = createMetrics(overrides.processMetrics ?? true);
  try {
    const { secret, generated, path } = loadOrCreateSecret(config);
    if (generated) {
      log.warn(
        `Generated a new secret at ${path}. Keep it (and back it up): refresh tokens and signing keys depend on it. Set TESSERA_SECRET to manage it yourself.`,
      );
    }
    shared = config.redisUrl ? await openRedis(config.redisUrl) : null;
    engine = await startEngine(config, overrides, store, secret, shared, metrics, log);
  } catch (error) {
    // A failed start must not leave a pool or a connection holding the process open.
    await shared?.close().catch(() => undefined);
    if (!overrides.store) await store.close().catch(() => undefined);
    throw error;
  }
  const stopSweeper = engine.startSweeper();
  // Started with the server, so events committed before a crash are delivered after the restart.
  const stopOutbox = engine.settings.deliversWebhooks ? engine.startOutboxWorker() : () => {};

  const handler = createHandler({
    engine,
    cookieSecure: config.cookieSecure,
    allowedOrigins: config.allowedOrigins,
    serviceToken: config.serviceToken,
    trustProxy: config.trustProxy,
    ...(config.allowedHosts ? { allowedHosts: config.allowedHosts } : {}),
    revocationStreams: { perCaller: config.feedStreamsPerCaller, total: config.feedStreamsTotal },
    routes: [metricsRoute(metrics), ...(overrides.demo ? demoRoutes() : [])],
    onResponse(info) {
      metrics.observe(info);
      if (log.enabled('debug')) log.debug('request', { ...info });
    },
    ...(overrides.clock ? { clock: overrides.clock } : {}),
  });

  const requestTimeoutMs = config.requestTimeoutSeconds * 1000;
  const http = createServer(
    {
      requestTimeout: requestTimeoutMs,
      headersTimeout: config.headersTimeoutSeconds * 1000,
      keepAliveTimeout: config.keepAliveTimeoutSeconds * 1000,
      // The listener answers a Host-less HTTP/1.1 request itself, in Tessera's shape with its headers.
      requireHostHeader: false,
      // How often Node checks those timeouts (its default, 30 s, would let a slow body run far past them).
      connectionsCheckingInterval: Math.max(
        100,
        Math.min(
          1000,
          Math.floor(Math.min(requestTimeoutMs || 30_000, config.headersTimeoutSeconds * 1000) / 4),
        ),
      ),
    },
    toNodeListener(handler),
  );
  http.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => {
    const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
    const refuse = (): void => {
      if (error.code !== 'ECONNRESET' && socket.writable && !socket.writableEnded) {
        socket.end(clientErrorResponse(error.code));
      }
      socket.destroy();
    };
    // Garbage pipelined after a complete request (a parse error, not a timeout of that request's own
    // body): the request before it is answered first, then the refusal, so its effect is never left
    // without its answer. Bounded, in case that answer never finishes.
    const parseError = typeof error.code === 'string' && error.code.startsWith('HPE_');
    // Only a request whose body fully arrived can still be answered; one cut off by the garbage cannot.
    if (parseError && inFlight && inFlight.req.complete && !inFlight.writableFinished && socket.writable) {
      const bound = setTimeout(refuse, 5000);
      bound.unref();
      inFlight.once('finish', () => {
        clearTimeout(bound);
        refuse();
      });
      inFlight.once('close', () => {
        clearTimeout(bound);
        refuse();
      });
      return;
    }
    if (inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    refuse();
  });

  return {
    http,
    handler,
    engine,
    store,
    metrics,
    config,
    log,
    async listen() {
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(config.port, config.host, () => {
          http.off('error', reject);
          resolve();
        });
      });
      const address = http.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    },
    async close() {
      stopSweeper();
      stopOutbox();
      // New requests get 503 (and Connection: close); open revocation streams end now.
      handler.close();
      const closed = new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeIdleConnections();
      // Graceful but bounded: in-flight requests get a second, then lingering connections are cut.
      const force = setTimeout(() => http.closeAllConnections(), 1000);
      await closed;
      clearTimeout(force);
      await engine.close();
      await shared?.close();
      await store.close();
    },
  };
}
