import { type OutboxState, TesseraError, type WebhookEventView } from '@tessera/core';
import { readBody, validateFields } from '../http/body.ts';
import { empty, json } from '../http/error-response.ts';
import type { Route } from '../http/route.ts';

/** The JSON shape of an outbox event (`GET /admin/webhooks`). */
function eventBody(event: WebhookEventView): Record<string, unknown> {
  return {
    id: event.id,
    type: event.type,
    state: event.state,
    created_at: event.createdAt.toISOString(),
    attempts: event.attempts,
    next_attempt_at: event.nextAttemptAt?.toISOString() ?? null,
    delivered_at: event.deliveredAt?.toISOString() ?? null,
    last_error: event.lastError,
    data: event.data,
  };
}

function queryLimit(text: string | null): number {
  if (text === null) return 50;
  if (!/^\d{1,4}$/.test(text)) {
    throw new TesseraError('invalid_request', 'The limit must be a whole number from 1 to 1000.', {
      field: 'limit',
    });
  }
  return Number(text);
}

/**
 * The webhook outbox for operators (service routes: `TESSERA_SERVICE_TOKEN`, or loopback when unset):
 * `GET /admin/webhooks?state=dead|pending|delivered&limit=N` lists events, newest first, one-time tokens
 * redacted; `POST /admin/webhooks/:id/replay` makes a dead (or delivered) event pending again.
 */
export function webhookAdminRoutes(base = '/admin'): Route[] {
  return [
    {
      method: 'GET',
      path: `${base}/webhooks`,
      auth: 'service',
      async handle(ctx) {
        const events = await ctx.routes.engine.listWebhookEvents(
          (ctx.request.query.get('state') ?? 'dead') as OutboxState,
          queryLimit(ctx.request.query.get('limit')),
        );
        return json(200, { events: events.map(eventBody) });
      },
    },
    {
      method: 'POST',
      path: `${base}/webhooks/:id/replay`,
      auth: 'service',
      async handle(ctx) {
        validateFields(readBody(ctx.request, 'json').value, {});
        if (!(await ctx.routes.engine.replayWebhookEvent(ctx.params.id ?? ''))) {
          throw new TesseraError('not_found', 'No dead or delivered webhook event has this id.');
        }
        return empty(204);
      },
    },
  ];
}
