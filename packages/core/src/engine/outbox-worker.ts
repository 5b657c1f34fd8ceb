import { hostname } from 'node:os';
import type { OutboxRecord } from '../store/store.ts';
import { randomBase64url } from '../tokens/random-id.ts';
import type { EngineContext } from './context.ts';
import { unsealEventData } from './sealed-token.ts';
import type { WebhookDeliver, WebhookEventType } from './webhook-events.ts';

/**
 * The Standard Webhooks retry schedule: after the first attempt (at once) fails, wait 5 s, then 5 min,
 * 30 min, 2 h, 5 h, 10 h and 10 h; the event is dead after the 8th failed attempt. Seconds.
 */
export const WEBHOOK_RETRY_DELAYS_SECONDS: readonly number[] = Object.freeze([
  5, 300, 1800, 7200, 18_000, 36_000, 36_000,
]);
/** Attempts before an event is dead-lettered: the first plus one per retry delay. */
export const WEBHOOK_MAX_ATTEMPTS: number = WEBHOOK_RETRY_DELAYS_SECONDS.length + 1;
/** Up to this fraction is added to each retry delay, so events that failed together spread out. */
const JITTER = 0.1;
const BATCH = 20;
/** Batches one pass claims at most, so a pass ends even while events keep arriving. */
const MAX_BATCHES_PER_PASS = 50;
const MAX_ERROR_LENGTH = 200;

/** What one delivery pass did. */
export interface OutboxPass {
  delivered: number;
  /** Failed attempts that will be retried. */
  retried: number;
  /** Events dead-lettered by this pass (their last attempt failed). */
  dead: number;
}

/** Delivers the outbox of one engine: claims due events under a lease, delivers each, records the outcome. */
export interface OutboxWorker {
  /** One pass now (after the pass in progress, if any): every event due by the engine's clock. */
  runOnce(): Promise<OutboxPass>;
  /** Starts passes every `intervalSeconds` and whenever this engine writes an event; returns a stop function. */
  start(intervalSeconds: number): () => void;
  /** Asks a started worker for a pass soon (this engine just committed events). */
  wake(): void;
  /** Stops the timer, aborts the attempts in flight and waits for the pass in progress to record them. */
  close(): Promise<void>;
}

const workers = new WeakMap<EngineContext, OutboxWorker>();

/** Wakes the engine's outbox worker, if it runs, after a write that committed events. */
export function wakeOutbox(ctx: EngineContext): void {
  workers.get(ctx)?.wake();
}

/** The delay before attempt `attempts + 1` after `attempts` failed ones, jittered; `null`: dead. */
export function retryDelayMs(attempts: number, random: number = Math.random()): number | null {
  const delay = WEBHOOK_RETRY_DELAYS_SECONDS[attempts - 1];
  if (delay === undefined) return null;
  return Math.round(delay * 1000 * (1 + JITTER * random));
}

/** A short failure text for operators: a status, a timeout or an error name, never the token. */
function describeFailure(error: unknown, timedOut: boolean, token: unknown, timeoutSeconds: number): string {
  if (timedOut) return `timed out after ${timeoutSeconds} s`;
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  let text = error instanceof Error ? error.message : String(error);
  if (typeof cause?.code === 'string') text = `${text} (${cause.code})`;
  if (typeof token === 'string' && token.length > 0) text = text.split(token).join('[redacted]');
  return text.slice(0, MAX_ERROR_LENGTH) || 'failed';
}

/**
 * Creates the outbox worker of an engine (registered, so {@link wakeOutbox} reaches it). A lease lasts
 * twice the attempt timeout plus 5 s: a worker that dies mid-delivery (SIGKILL) leaves its events
 * claimable again after it, so every event is delivered at least once, and by one worker at a time.
 */
export function createOutboxWorker(ctx: EngineContext): OutboxWorker {
  const owner = `${hostname()}:${process.pid}:${randomBase64url(6)}`;
  const timeoutMs = ctx.options.webhookTimeoutSeconds * 1000;
  const leaseMs = timeoutMs * 2 + 5000;
  let running: Promise<OutboxPass> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  let interval = 1000;
  let started = false;
  let closed = false;
  /** Attempts in flight, aborted by `close()` so a shutdown never waits on a slow receiver. */
  const inFlight = new Set<AbortController>();

  async function attempt(deliver: WebhookDeliver, event: OutboxRecord): Promise<keyof OutboxPass> {
    const controller = new AbortController();
    inFlight.add(controller);
    let timedOut = false;
    let data: Record<string, unknown> = event.data;
    let deadline: NodeJS.Timeout | undefined;
    try {
      data = unsealEventData(ctx, event.id, event.data);
      const delivery = Promise.resolve(
        deliver({
          id: event.id,
          type: event.type as WebhookEventType,
          timestamp: new Date(event.createdAtMs),
          data,
          attempt: event.attempts + 1,
          attemptedAt: new Date(ctx.clock.now()),
          signal: controller.signal,
        }),
      );
      // A delivery that fails after its timeout already counted must not surface as unhandled.
      delivery.catch(() => undefined);
      await Promise.race([
        delivery,
        // Settles on the timeout or a shutdown, even when `deliver` ignores its signal.
        new Promise<never>((_, reject) => {
          controller.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
          deadline = setTimeout(() => {
            timedOut = true;
            controller.abort();
          }, timeoutMs);
        }),
      ]);
    } catch (error) {
      const nowMs = ctx.clock.now();
      const delay = retryDelayMs(event.attempts + 1);
      const text = closed
        ? 'aborted: the worker shut down'
        : describeFailure(error, timedOut, data.token, ctx.options.webhookTimeoutSeconds);
      ctx.onEvent({
        type: 'webhook.failed',
        eventId: event.id,
        eventType: event.type,
        attempt: event.attempts + 1,
        error: text,
        dead: delay === null,
        atMs: nowMs,
      });
      await ctx.store
        .finishOutboxAttempt(event.id, owner, {
          delivered: false,
          atMs: nowMs,
          nextAttemptAtMs: delay === null ? null : nowMs + delay,
          error: text,
        })
        .catch(() => {
          // Unrecorded, the lease runs out and the event is attempted again: never lost.
        });
      return delay === null ? 'dead' : 'retried';
    } finally {
      clearTimeout(deadline);
      inFlight.delete(controller);
    }
    await ctx.store
      .finishOutboxAttempt(event.id, owner, { delivered: true, atMs: ctx.clock.now() })
      .catch(() => {
        // Unrecorded, the lease runs out and the event is delivered again: at least once.
      });
    return 'delivered';
  }

  async function pass(): Promise<OutboxPass> {
    const totals: OutboxPass = { delivered: 0, retried: 0, dead: 0 };
    const deliver = ctx.options.deliver;
    if (deliver === null) return totals;
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS && !closed; batch += 1) {
      const claimed = await ctx.store.claimOutbox(ctx.clock.now(), BATCH, leaseMs, owner);
      const outcomes = await Promise.all(claimed.map((event) => attempt(deliver, event)));
      for (const outcome of outcomes) totals[outcome] += 1;
      if (claimed.length < BATCH) break;
    }
    return totals;
  }

  function runOnce(): Promise<OutboxPass> {
    if (running) {
      again = true;
      return running.then(() => runOnce());
    }
    again = false;
    running = pass().finally(() => {
      running = null;
      if (again && started && !closed) schedule(0);
    });
    return running;
  }

  function schedule(delayMs: number): void {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      runOnce()
        .catch(() => {
          // The store is unreachable: the next tick tries again; no request waits on it.
        })
        .finally(() => {
          if (started && !closed && timer === null) schedule(interval);
        });
    }, delayMs);
    timer.unref();
  }

  const worker: OutboxWorker = {
    runOnce,
    start(intervalSeconds) {
      interval = intervalSeconds * 1000;
      started = true;
      closed = false;
      schedule(0);
      return () => {
        started = false;
        if (timer) clearTimeout(timer);
        timer = null;
      };
    },
    wake() {
      if (!started || closed) return;
      if (running) again = true;
      else schedule(0);
    },
    async close() {
      closed = true;
      started = false;
      if (timer) clearTimeout(timer);
      timer = null;
      // Recorded as failed attempts (retried after 5 s by whoever runs next): at least once, never lost.
      for (const controller of inFlight) controller.abort();
      await running?.catch(() => undefined);
    },
  };
  workers.set(ctx, worker);
  return worker;
}
