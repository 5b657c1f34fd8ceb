import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** A webhook the receiver accepted: its headers, and the payload `Webhook.verify` returned. */
export interface ReceivedWebhook {
  id: string;
  timestampSeconds: number;
  type: string;
  timestamp: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read event data loosely and assert on it.
  data: any;
}

/** How the receiver answers: `ok` (204), `fail` (500), `hold` (reads the request, never answers). */
export type ReceiverMode = 'ok' | 'fail' | 'hold';

/** A loopback Standard Webhooks receiver that verifies every request with the `standardwebhooks` package. */
export interface WebhookReceiver {
  url: string;
  /** `whsec_…`, for TESSERA_WEBHOOK_SECRET. */
  secret: string;
  mode: ReceiverMode;
  /** Requests answered 2xx, in arrival order (a retried event appears once per accepted attempt). */
  accepted: ReceivedWebhook[];
  /** Every request that arrived, verified, whatever the answer. */
  attempts: ReceivedWebhook[];
  /** Requests whose signature or headers did not verify (must stay empty). */
  rejected: string[];
  /** Resolves with the first accepted event matching `match` (already there or yet to come); rejects after `timeoutMs`. */
  next(match: (event: ReceivedWebhook) => boolean, timeoutMs?: number): Promise<ReceivedWebhook>;
  /** Resolves with the next request that arrives in `hold` mode (each arrival answers one call); the sender waits on it. */
  held(timeoutMs?: number): Promise<ReceivedWebhook>;
  /** Stops listening (senders get ECONNREFUSED) without forgetting what arrived. */
  down(): Promise<void>;
  /** Listens again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Starts a receiver on a loopback port. `now` is the clock freshness is judged by (Standard Webhooks
 * refuses timestamps over 5 minutes off): the test's manual clock when the server runs on one, as a
 * receiver whose clock agrees with the sender's.
 */
export async function startWebhookReceiver(now: () => number = Date.now): Promise<WebhookReceiver> {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const verifier = new Webhook(secret);
  const waiters: Array<{ match: (e: ReceivedWebhook) => boolean; resolve: (e: ReceivedWebhook) => void }> =
    [];
  const heldWaiters: Array<(e: ReceivedWebhook) => void> = [];
  const sockets = new Set<import('node:net').Socket>();

  const verify = (body: string, request: IncomingMessage): ReceivedWebhook | null => {
    const headers = {
      'webhook-id': String(request.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
    };
    const realNow = Date.now;
    Date.now = now;
    try {
      const payload = verifier.verify(body, headers) as { type: string; timestamp: string; data: unknown };
      return {
        id: headers['webhook-id'],
        timestampSeconds: Number(headers['webhook-timestamp']),
        type: payload.type,
        timestamp: payload.timestamp,
        data: payload.data,
      };
    } catch (error) {
      receiver.rejected.push(`${headers['webhook-id']}: ${(error as Error).message}`);
      return null;
    } finally {
      Date.now = realNow;
    }
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => {
      body += chunk;
    });
    request.on('end', () => {
      const event = verify(body, request);
      if (!event) {
        response.writeHead(400).end();
        return;
      }
      receiver.attempts.push(event);
      if (receiver.mode === 'hold') {
        heldWaiters.shift()?.(event);
        return;
      }
      if (receiver.mode === 'fail') {
        response.writeHead(500).end('{"error":"down for maintenance"}');
        return;
      }
      response.writeHead(204).end();
      receiver.accepted.push(event);
      for (const waiter of [...waiters]) {
        if (waiter.match(event)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event);
        }
      }
    });
  };

  let server: Server = createServer(handle);
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server = createServer(handle);
      server.on('connection', (socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  const stop = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };

  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/webhooks`,
    secret,
    mode: 'ok',
    accepted: [],
    attempts: [],
    rejected: [],
    next(match, timeoutMs = 10_000) {
      const found = receiver.accepted.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(
            new Error(
              `no matching webhook within ${timeoutMs} ms; accepted: ${receiver.accepted.map((e) => e.type).join(', ')}`,
            ),
          );
        }, timeoutMs);
        const waiter = {
          match,
          resolve: (event: ReceivedWebhook) => {
            clearTimeout(timer);
            resolve(event);
          },
        };
        waiters.push(waiter);
      });
    },
    held(timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`nothing arrived within ${timeoutMs} ms`)),
          timeoutMs,
        );
        heldWaiters.push((event) => {
          clearTimeout(timer);
          resolve(event);
        });
      });
    },
    down: stop,
    up: () => listen(port),
    close: stop,
  };
  return receiver;
}
