import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { OneStepRotation, OneStepRotationResult, SessionRecord } from '@tessera/core';
import { StoreUnavailableError } from '@tessera/core';
import { makeSession } from '@tessera/core/testing';
import { createRotationBatcher, type RotationCall } from './rotation-batch.ts';

// The batcher's scheduling over a scripted `send`: which calls share a batch, when a batch goes out,
// and how failures and close are answered. The SQL is tested against PostgreSQL in
// postgres-rotation-batch.test.ts.

const TIMEOUT_MS = 3000;
const update: OneStepRotation = { nowMs: 1, idleTtlMs: 10, maxLoginAgeMs: 0, ip: null, userAgent: null };
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
// After an answer the batcher schedules its next flush once the answer's callbacks ran: a turn later
// than the test's own continuation may see.
const turnAfterAnswer = async (): Promise<void> => {
  await turn();
  await turn();
};

/** A `send` that records each batch's session ids and answers when the test says so. */
function scriptedSend() {
  const batches: Array<{
    ids: string[];
    deadline: number;
    answer: () => void;
    fail: (error: unknown) => void;
  }> = [];
  const send = (
    calls: readonly RotationCall[],
    deadline: number,
  ): Promise<Array<OneStepRotationResult | null>> =>
    new Promise((resolve, reject) => {
      batches.push({
        ids: calls.map((c) => c.id),
        deadline,
        answer: () =>
          resolve(
            calls.map((c) => ({
              rotated: true,
              session: makeSession('u', { id: c.id, generation: c.fromGeneration + 1 }) as SessionRecord,
              user: null,
            })),
          ),
        fail: reject,
      });
    });
  return { batches, send };
}

/** A batcher with one batch in flight at most, on mocked `setTimeout` and `Date` (starting at 0). */
function oneInFlightOnMockedClock(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  const { batches, send } = scriptedSend();
  const batcher = createRotationBatcher({
    timeoutMs: TIMEOUT_MS,
    now: Date.now,
    maxBatchSize: 10,
    maxInFlight: 1,
    send,
  });
  return { batches, batcher };
}

describe('rotation batcher', () => {
  it('sends the calls of one turn as one batch, in the next turn, split at the size cap', async () => {
    const { batches, send } = scriptedSend();
    const batcher = createRotationBatcher({ timeoutMs: TIMEOUT_MS, maxBatchSize: 3, maxInFlight: 4, send });
    const answers = ['a', 'b', 'c', 'd'].map((id) => batcher.rotate(id, 1, update));
    assert.equal(batches.length, 0, 'nothing is sent before the turn ends');
    await turn();
    assert.deepEqual(
      batches.map((b) => b.ids),
      [['a', 'b', 'c'], ['d']],
    );
    for (const batch of batches) batch.answer();
    const results = await Promise.all(answers);
    assert.deepEqual(
      results.map((r) => [r?.session.id, r?.session.generation]),
      [
        ['a', 2],
        ['b', 2],
        ['c', 2],
        ['d', 2],
      ],
    );
  });

  it('keeps at most maxInFlight batches out; calls made meanwhile share the next one', async () => {
    const { batches, send } = scriptedSend();
    const batcher = createRotationBatcher({ timeoutMs: TIMEOUT_MS, maxBatchSize: 1, maxInFlight: 2, send });
    const first = ['a', 'b', 'c'].map((id) => batcher.rotate(id, 1, update));
    await turn();
    assert.deepEqual(
      batches.map((b) => b.ids),
      [['a'], ['b']],
    );
    batches[0]?.answer();
    await first[0];
    await turnAfterAnswer();
    assert.deepEqual(
      batches.map((b) => b.ids),
      [['a'], ['b'], ['c']],
    );
    batches[1]?.answer();
    batches[2]?.answer();
    await Promise.all(first);

    const wide = createRotationBatcher({ timeoutMs: TIMEOUT_MS, maxBatchSize: 10, maxInFlight: 1, send });
    const x = wide.rotate('x', 1, update);
    await turn();
    const later = ['y', 'z'].map((id) => wide.rotate(id, 1, update));
    await turn();
    assert.equal(batches.length, 4, 'y and z wait while x is in flight');
    batches[3]?.answer();
    await x;
    await turnAfterAnswer();
    assert.deepEqual(batches[4]?.ids, ['y', 'z']);
    batches[4]?.answer();
    await Promise.all(later);
  });

  it('puts one session in one batch in flight at a time: a second call waits for the first answer', async () => {
    const { batches, send } = scriptedSend();
    const batcher = createRotationBatcher({ timeoutMs: TIMEOUT_MS, maxBatchSize: 10, maxInFlight: 4, send });
    const answers = [
      batcher.rotate('a', 1, update),
      batcher.rotate('b', 1, update),
      batcher.rotate('a', 1, update),
    ];
    await turn();
    assert.deepEqual(
      batches.map((b) => b.ids),
      [['a', 'b']],
      'the second call for a is held back although batches are free',
    );
    batches[0]?.answer();
    await turnAfterAnswer();
    assert.deepEqual(batches[1]?.ids, ['a']);
    batches[1]?.answer();
    await Promise.all(answers);
  });

  it('rejects every call of a failed batch with its error and resolves none', async () => {
    const { batches, send } = scriptedSend();
    const batcher = createRotationBatcher({ timeoutMs: TIMEOUT_MS, maxBatchSize: 10, maxInFlight: 4, send });
    const answers = ['a', 'b', 'c'].map((id) => batcher.rotate(id, 1, update));
    await turn();
    const failure = new StoreUnavailableError(new Error('Connection terminated'));
    batches[0]?.fail(failure);
    const settled = await Promise.allSettled(answers);
    assert.deepEqual(
      settled.map((s) => (s.status === 'rejected' ? s.reason : 'resolved')),
      [failure, failure, failure],
    );
  });

  it('sends the calls of a batch again one by one when retryAlone says so, each answered on its own', async () => {
    const { batches, send } = scriptedSend();
    const deadlock = new Error('deadlock detected');
    const batcher = createRotationBatcher({
      timeoutMs: TIMEOUT_MS,
      maxBatchSize: 10,
      maxInFlight: 1,
      send,
      retryAlone: (error) => error === deadlock,
    });
    const answers = ['a', 'b'].map((id) => batcher.rotate(id, 1, update));
    await turn();
    batches[0]?.fail(deadlock);
    await turn();
    assert.deepEqual(
      batches.map((b) => b.ids),
      [['a', 'b'], ['a'], ['b']],
    );
    batches[1]?.answer();
    // A call alone that fails again is rejected, not retried once more.
    batches[2]?.fail(deadlock);
    const settled = await Promise.allSettled(answers);
    assert.equal(settled[0]?.status, 'fulfilled');
    assert.deepEqual(settled[1], { status: 'rejected', reason: deadlock });
  });

  it('rejects a batch answered with the wrong count rather than answering a call with null', async () => {
    const batcher = createRotationBatcher({
      timeoutMs: TIMEOUT_MS,
      maxBatchSize: 10,
      maxInFlight: 1,
      send: async () => [null],
    });
    const settled = await Promise.allSettled([
      batcher.rotate('a', 1, update),
      batcher.rotate('b', 1, update),
    ]);
    assert.deepEqual(
      settled.map((s) => s.status),
      ['rejected', 'rejected'],
    );
  });

  it('close sends and answers everything waiting, then refuses new calls', async () => {
    const { batches, send } = scriptedSend();
    const batcher = createRotationBatcher({ timeoutMs: TIMEOUT_MS, maxBatchSize: 1, maxInFlight: 1, send });
    const answers = ['a', 'b', 'a'].map((id) => batcher.rotate(id, 1, update));
    let closed = false;
    const closing = batcher.close().then(() => {
      closed = true;
    });
    await assert.rejects(batcher.rotate('c', 1, update), StoreUnavailableError);
    for (let i = 0; i < 3; i += 1) {
      await turnAfterAnswer();
      assert.equal(batches.length, i + 1);
      assert.equal(closed, false, 'close waits for every accepted call');
      batches[i]?.answer();
    }
    await closing;
    assert.deepEqual(
      batches.map((b) => b.ids),
      [['a'], ['b'], ['a']],
    );
    assert.equal((await Promise.all(answers)).length, 3);
    await batcher.close();
  });

  it('rejects a call still queued at its deadline as unavailable, never sends it, and keeps the others', async (t) => {
    const { batches, batcher } = oneInFlightOnMockedClock(t);
    // A frozen database: the first batch is never answered, and every slot stays taken.
    const stuck = batcher.rotate('a', 1, update);
    await turn();
    t.mock.timers.tick(1000);
    const queued = batcher.rotate('b', 1, update);
    await turn();
    t.mock.timers.tick(500);
    const younger = batcher.rotate('c', 1, update);
    await turn();
    let settled = false;
    void queued.catch(() => {
      settled = true;
    });
    // b was queued at 1000 ms: it has until 1000 + TIMEOUT_MS.
    t.mock.timers.tick(TIMEOUT_MS - 500 - 1);
    await turn();
    assert.equal(settled, false, 'not a millisecond early');
    t.mock.timers.tick(1);
    await assert.rejects(queued, (error: unknown) => {
      assert.ok(error instanceof StoreUnavailableError);
      assert.match(String((error as Error).cause), /within the query timeout/);
      return true;
    });
    assert.equal(batches.length, 1, 'b was never sent');
    // The first batch answers at last: the call still in time goes out, with its own deadline.
    batches[0]?.answer();
    await stuck;
    await turnAfterAnswer();
    assert.deepEqual(batches[1], { ...batches[1], ids: ['c'], deadline: 1500 + TIMEOUT_MS });
    t.mock.timers.tick(TIMEOUT_MS);
    batches[1]?.answer();
    assert.equal((await younger)?.session.generation, 2, "a call in flight is the sender's to bound");
  });

  it('sends a batch with the deadline of its oldest call', async (t) => {
    const { batches, batcher } = oneInFlightOnMockedClock(t);
    const answers = [batcher.rotate('x', 1, update)];
    await turn();
    t.mock.timers.tick(200);
    answers.push(batcher.rotate('a', 1, update));
    await turn();
    t.mock.timers.tick(300);
    answers.push(batcher.rotate('b', 1, update));
    await turn();
    assert.equal(batches[0]?.deadline, TIMEOUT_MS);
    batches[0]?.answer();
    await answers[0];
    await turnAfterAnswer();
    assert.deepEqual(batches[1]?.ids, ['a', 'b']);
    assert.equal(batches[1]?.deadline, 200 + TIMEOUT_MS);
    batches[1]?.answer();
    await Promise.all(answers);
  });

  it('close resolves once the last waiting call has timed out', async (t) => {
    const { batches, batcher } = oneInFlightOnMockedClock(t);
    const stuck = batcher.rotate('a', 1, update);
    await turn();
    const queued = batcher.rotate('b', 1, update);
    await turn();
    let closed = false;
    const closing = batcher.close().then(() => {
      closed = true;
    });
    t.mock.timers.tick(TIMEOUT_MS);
    await assert.rejects(queued, StoreUnavailableError);
    await turn();
    assert.equal(closed, false, 'the batch in flight is still unanswered');
    batches[0]?.fail(new StoreUnavailableError(new Error('Query read timeout')));
    await assert.rejects(stuck, StoreUnavailableError);
    await closing;
    assert.equal(batches.length, 1);
  });
});
