import { TesseraError } from '../errors.ts';
import type { OutboxRecord, OutboxState } from '../store/store.ts';
import type { EngineContext } from './context.ts';
import { wakeOutbox } from './outbox-worker.ts';
import { redactEventData } from './sealed-token.ts';

/** An outbox event as operators see it (CLI, admin route): one-time tokens redacted. */
export interface WebhookEventView {
  id: string;
  type: string;
  state: OutboxState;
  createdAt: Date;
  /** Delivery attempts made. */
  attempts: number;
  /** When the next attempt is due (pending events); `null` otherwise. */
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  /** The last failure (a status, a timeout, a network error). */
  lastError: string | null;
  /** The event's data, a one-time token shown as `"[redacted]"`. */
  data: Record<string, unknown>;
}

const STATES: readonly OutboxState[] = ['pending', 'delivered', 'dead'];
const MAX_LIST = 1000;
const EVENT_ID = /^[A-Za-z0-9_.-]{1,128}$/;

function toView(record: OutboxRecord): WebhookEventView {
  return {
    id: record.id,
    type: record.type,
    state: record.state,
    createdAt: new Date(record.createdAtMs),
    attempts: record.attempts,
    nextAttemptAt: record.state === 'pending' ? new Date(record.nextAttemptAtMs) : null,
    deliveredAt: record.deliveredAtMs === null ? null : new Date(record.deliveredAtMs),
    lastError: record.lastError,
    data: redactEventData(record.data),
  };
}

/**
 * The outbox events in `state` (`dead` by default: those whose last attempt failed), newest first, at
 * most `limit` (1 to 1,000, default 50). Throws `invalid_request` for another state or limit.
 */
export async function listWebhookEvents(
  ctx: EngineContext,
  state: OutboxState = 'dead',
  limit = 50,
): Promise<WebhookEventView[]> {
  if (!STATES.includes(state)) {
    throw new TesseraError('invalid_request', `The state must be one of ${STATES.join(', ')}.`, {
      field: 'state',
    });
  }
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST) {
    throw new TesseraError('invalid_request', `The limit must be a whole number from 1 to ${MAX_LIST}.`, {
      field: 'limit',
    });
  }
  return (await ctx.store.listOutbox(state, limit)).map(toView);
}

/**
 * Makes a dead (or delivered) event pending again, due now with its attempts reset, under the same
 * `webhook-id` (receivers that saw it before can tell). Returns false when there is no such event or it
 * is pending already.
 */
export async function replayWebhookEvent(ctx: EngineContext, id: string): Promise<boolean> {
  if (typeof id !== 'string' || !EVENT_ID.test(id)) return false;
  const replayed = await ctx.store.replayOutbox(id, ctx.clock.now());
  if (replayed) wakeOutbox(ctx);
  return replayed;
}
