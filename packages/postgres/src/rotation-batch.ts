// Refreshes batched across concurrent requests. node-postgres sends one query per round trip and
// PostgreSQL commits once per statement, so under load most of a refresh's cost on both sides is per
// statement (protocol, parse of the bind, executor start, commit), not per row. Calls made in one
// event-loop turn go out as one statement; while batches are in flight, new calls wait for the next
// one, so an idle store adds at most one turn (a `setImmediate`) and a busy one fills its batches.
// A call's query timeout runs from when it is queued, not from when its batch goes out: waiting for a
// batch slot is part of what a frozen database makes a request wait for.

import type { OneStepRotation, OneStepRotationResult } from '@tessera/core';
import { StoreUnavailableError } from '@tessera/core';
import { deadlineExceeded } from './call-deadline.ts';

/** One `rotateSessionInOneStep` call, as a batch carries it. */
export interface RotationCall {
  id: string;
  fromGeneration: number;
  update: OneStepRotation;
}

/** Options of {@link createRotationBatcher}. */
export interface RotationBatcherOptions {
  /** Most calls in one batch (at least 1). */
  maxBatchSize: number;
  /** Most batches sent and not yet answered (at least 1). */
  maxInFlight: number;
  /**
   * Most milliseconds a call may take from when it is queued: one still queued then is rejected as
   * unavailable ({@link StoreUnavailableError}), and a batch goes out with its oldest call's deadline.
   */
  timeoutMs: number;
  /** A monotonic clock in milliseconds, on which deadlines are given to `send`. Default `performance.now`. */
  now?: () => number;
  /**
   * Runs one batch, never holding one session twice, in one statement, by `deadline` (on the `now`
   * clock): answers one result per call, in order, or rejects, and then no call of the batch changed
   * anything.
   */
  send(calls: readonly RotationCall[], deadline: number): Promise<Array<OneStepRotationResult | null>>;
  /**
   * True when a batch failed for a reason its calls would not meet one at a time (a deadlock with
   * another multi-row writer): each call is then sent again alone instead of rejected.
   */
  retryAlone?(error: unknown): boolean;
}

/** Batches `rotateSessionInOneStep` calls; see {@link createRotationBatcher}. */
export interface RotationBatcher {
  /** Queues one call; answers as the store's `rotateSessionInOneStep` does. */
  rotate(id: string, fromGeneration: number, update: OneStepRotation): Promise<OneStepRotationResult | null>;
  /**
   * Refuses new calls ({@link StoreUnavailableError}), sends every waiting one, and resolves once each
   * has been answered or rejected: nothing accepted is dropped.
   */
  close(): Promise<void>;
}

interface Waiting extends RotationCall {
  deadline: number;
  resolve(result: OneStepRotationResult | null): void;
  reject(error: unknown): void;
}

const closedError = (): StoreUnavailableError =>
  new StoreUnavailableError(new Error('The PostgreSQL store is closed.'));

/**
 * Creates a batcher over `options.send`. A session is in at most one batch in flight: a second call
 * for it (two tabs refreshing at once) waits for the batch holding the first to be answered, so its
 * own statement sees the winner's commit and the engine answers it as a concurrent tab (the grace
 * case) instead of another compare-and-set that must lose. Calls otherwise go out in arrival order.
 */
export function createRotationBatcher(options: RotationBatcherOptions): RotationBatcher {
  const { maxBatchSize, maxInFlight, timeoutMs, send } = options;
  const now = options.now ?? (() => performance.now());
  let queue: Waiting[] = [];
  // Sessions in a batch in flight: a later call for one waits in the queue.
  const busy = new Set<string>();
  let inFlight = 0;
  let scheduled = false;
  let closed = false;
  const idle: Array<() => void> = [];
  // Fires at the deadline of the oldest call still queued (calls queue in deadline order).
  let expiry: NodeJS.Timeout | undefined;

  const settleIdle = (): void => {
    if (queue.length === 0 && inFlight === 0) for (const done of idle.splice(0)) done();
  };

  // Rejects the queued calls whose time is up; the rest keep their place.
  const dropExpired = (): void => {
    const at = now();
    if (queue.length === 0 || (queue[0] as Waiting).deadline > at) return;
    const late = queue.filter((call) => call.deadline <= at);
    queue = queue.filter((call) => call.deadline > at);
    for (const call of late) call.reject(deadlineExceeded('a refresh waiting for its batch'));
  };

  const armExpiry = (): void => {
    const first = queue[0];
    if (expiry || !first) return;
    expiry = setTimeout(
      () => {
        expiry = undefined;
        dropExpired();
        armExpiry();
        settleIdle();
      },
      Math.max(0, first.deadline - now()),
    );
    expiry.unref();
  };

  const take = (): Waiting[] => {
    const batch: Waiting[] = [];
    const rest: Waiting[] = [];
    for (const call of queue) {
      if (batch.length < maxBatchSize && !busy.has(call.id)) {
        busy.add(call.id);
        batch.push(call);
      } else rest.push(call);
    }
    queue = rest;
    return batch;
  };

  const settle = async (batch: Waiting[]): Promise<void> => {
    let results: Array<OneStepRotationResult | null>;
    try {
      results = await send(
        batch,
        batch.reduce((soonest, call) => Math.min(soonest, call.deadline), Number.POSITIVE_INFINITY),
      );
      if (results.length !== batch.length) throw new Error('A rotation batch answered the wrong count.');
    } catch (error) {
      // The statement failed whole: no call in it rotated, so sending them alone changes nothing twice.
      if (batch.length > 1 && options.retryAlone?.(error)) {
        await Promise.all(batch.map((call) => settle([call])));
        return;
      }
      for (const call of batch) call.reject(error);
      return;
    }
    for (const [i, call] of batch.entries()) call.resolve(results[i] ?? null);
  };

  const pump = (): void => {
    scheduled = false;
    dropExpired();
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = take();
      // Everything waiting is for a session already in flight: that batch's answer pumps again.
      if (batch.length === 0) break;
      inFlight += 1;
      void settle(batch).finally(() => {
        inFlight -= 1;
        for (const call of batch) busy.delete(call.id);
        if (queue.length > 0) schedule();
        else settleIdle();
      });
    }
    armExpiry();
    settleIdle();
  };

  // One turn's calls share a batch: the flush runs after the I/O callbacks of this turn.
  const schedule = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(pump);
  };

  return {
    rotate: (id, fromGeneration, update) =>
      new Promise((resolve, reject) => {
        if (closed) {
          reject(closedError());
          return;
        }
        queue.push({ id, fromGeneration, update, deadline: now() + timeoutMs, resolve, reject });
        schedule();
      }),
    close() {
      closed = true;
      if (queue.length === 0 && inFlight === 0) return Promise.resolve();
      return new Promise<void>((resolve) => {
        idle.push(resolve);
        schedule();
      });
    },
  };
}
