// Refreshes batched across concurrent requests. node-postgres sends one query per round trip and
// PostgreSQL commits once per statement, so under load most of a refresh's cost on both sides is per
// statement (protocol, parse of the bind, executor start, commit), not per row. Calls made in one
// event-loop turn go out as one statement; while batches are in flight, new calls wait for the next
// one, so an idle store adds at most one turn (a `setImmediate`) and a busy one fills its batches.

import type { OneStepRotation, OneStepRotationResult } from '@tessera/core';
import { StoreUnavailableError } from '@tessera/core';

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
   * Runs one batch, never holding one session twice, in one statement: answers one result per call,
   * in order, or rejects, and then no call of the batch changed anything.
   */
  send(calls: readonly RotationCall[]): Promise<Array<OneStepRotationResult | null>>;
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
  const { maxBatchSize, maxInFlight, send } = options;
  let queue: Waiting[] = [];
  // Sessions in a batch in flight: a later call for one waits in the queue.
  const busy = new Set<string>();
  let inFlight = 0;
  let scheduled = false;
  let closed = false;
  const idle: Array<() => void> = [];

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
      results = await send(batch);
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
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = take();
      // Everything waiting is for a session already in flight: that batch's answer pumps again.
      if (batch.length === 0) break;
      inFlight += 1;
      void settle(batch).finally(() => {
        inFlight -= 1;
        for (const call of batch) busy.delete(call.id);
        if (queue.length > 0) schedule();
        else if (inFlight === 0) for (const done of idle.splice(0)) done();
      });
    }
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
        queue.push({ id, fromGeneration, update, resolve, reject });
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
