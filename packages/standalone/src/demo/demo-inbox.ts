import { TesseraError, type WebhookDeliver, type WebhookMessage } from '@tessera/core';
import { errorResponse, isLoopback, json, type Route } from '@tessera/server';

/** One webhook event as the demo inbox keeps it: the Standard Webhooks payload and its message id. */
export interface DemoInboxEvent {
  /** The `webhook-id` (the same on every retry and replay of the event). */
  readonly id: string;
  readonly type: string;
  /** When the event happened, ISO 8601. */
  readonly timestamp: string;
  /** When the inbox received it, ISO 8601. */
  readonly received_at: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The demo server's stand-in for email: webhook events kept in memory and shown on the demo page. */
export interface DemoInbox {
  /** The engine's `deliver`: keeps the message (a repeated id replaces the earlier copy) and resolves. */
  readonly deliver: WebhookDeliver;
  /** The kept events, newest first. */
  events(): readonly DemoInboxEvent[];
  /** `GET /demo/inbox`, served to loopback callers only. */
  route(): Route;
}

/** How many events the demo inbox keeps by default (older ones drop off). */
export const DEMO_INBOX_SIZE = 50;

/**
 * The demo inbox: in `--demo` mode without `TESSERA_WEBHOOK_URL`, the standalone server delivers its
 * webhook events (reset, verification and magic-link tokens included) here instead of posting them,
 * keeping the newest `size` in memory. `GET /demo/inbox` lists them to loopback callers only: the
 * tokens in it take over accounts, so the inbox never leaves the machine and never exists outside demo
 * mode.
 */
export function createDemoInbox(size: number = DEMO_INBOX_SIZE): DemoInbox {
  // Insertion order is arrival order; a redelivery (same id, at least once) moves to the end.
  const kept = new Map<string, DemoInboxEvent>();
  const keep = (message: WebhookMessage): void => {
    kept.delete(message.id);
    kept.set(message.id, {
      id: message.id,
      type: message.type,
      timestamp: message.timestamp.toISOString(),
      received_at: message.attemptedAt.toISOString(),
      data: message.data,
    });
    for (const id of kept.keys()) {
      if (kept.size <= size) break;
      kept.delete(id);
    }
  };
  const events = (): DemoInboxEvent[] => [...kept.values()].reverse();
  return {
    async deliver(message) {
      keep(message);
    },
    events,
    route() {
      return {
        method: 'GET',
        path: '/demo/inbox',
        auth: 'none',
        async handle(ctx) {
          if (!isLoopback(ctx.request.ip)) {
            return errorResponse(
              new TesseraError(
                'forbidden',
                'The demo inbox holds sign-in and reset links: it is shown on this machine only.',
              ),
            );
          }
          return json(200, { events: events() });
        },
      };
    },
  };
}
