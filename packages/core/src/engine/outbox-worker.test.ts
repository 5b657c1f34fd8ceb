import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { isTesseraError } from '../errors.ts';
import { createEngineFixture, must } from '../testing/engine-fixture.ts';
import { retryDelayMs, WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_DELAYS_SECONDS } from './outbox-worker.ts';
import type { WebhookMessage } from './webhook-events.ts';

const PASSWORD = 'correct horse battery staple';

/** A `deliver` that records every attempt and fails while `failing` says so. */
function inbox() {
  const attempts: WebhookMessage[] = [];
  const state = {
    attempts,
    failing: false as boolean | ((message: WebhookMessage) => Error | null),
    /** Messages delivered (attempts that did not fail). */
    delivered: [] as WebhookMessage[],
    deliver: async (message: WebhookMessage) => {
      attempts.push(message);
      const failure =
        typeof state.failing === 'function'
          ? state.failing(message)
          : state.failing
            ? new Error('receiver down')
            : null;
      if (failure) throw failure;
      state.delivered.push(message);
    },
  };
  return state;
}

describe('webhook outbox', () => {
  it('writes no event without a delivery target, and the events of each write with one', async () => {
    const off = await createEngineFixture();
    await off.engine.register({ email: 'ada@example.com', password: PASSWORD });
    assert.deepEqual(await off.store.listOutbox('pending', 10), []);
    assert.equal(off.engine.settings.deliversWebhooks, false);
    await assert.rejects(
      off.engine.requestPasswordReset({ email: 'ada@example.com' }),
      (error: unknown) => isTesseraError(error) && error.code === 'invalid_configuration',
    );

    const box = inbox();
    const on = await createEngineFixture({ deliver: box.deliver });
    assert.equal(on.engine.settings.deliversWebhooks, true);
    const tokens = await on.engine.register({
      email: 'ada@example.com',
      password: PASSWORD,
      ip: '203.0.113.7',
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0',
    });
    const pending = await on.store.listOutbox('pending', 10);
    assert.deepEqual(pending.map((e) => e.type).sort(), ['session.created', 'user.created']);
    assert.equal(box.attempts.length, 0, 'nothing is delivered before the worker runs');
    assert.deepEqual(await on.engine.deliverWebhooks(), { delivered: 2, retried: 0, dead: 0 });
    const created = box.delivered.find((m) => m.type === 'session.created');
    assert.deepEqual(created?.data, {
      user_id: tokens.userId,
      session_id: tokens.sessionId,
      amr: ['pwd'],
      device_name: 'Firefox on Linux',
      ip: '203.0.113.7',
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0',
      new_device: true,
    });
    assert.match(created?.id ?? '', /^msg_[A-Za-z0-9_-]{22}$/);
    assert.equal(created?.timestamp.getTime(), on.clock.now());
    assert.equal(created?.attempt, 1);
    assert.deepEqual(box.delivered.find((m) => m.type === 'user.created')?.data, {
      user_id: tokens.userId,
      email: 'ada@example.com',
    });
    assert.equal((await on.store.listOutbox('delivered', 10)).length, 2);
    assert.deepEqual(await on.engine.deliverWebhooks(), { delivered: 0, retried: 0, dead: 0 });
  });

  it('retries on the Standard Webhooks schedule, then dead-letters; a replay delivers under the same id', async () => {
    const box = inbox();
    const { engine, clock } = await createEngineFixture({ deliver: box.deliver });
    box.failing = true;
    await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const start = clock.now();
    let elapsedMs = 0;
    assert.deepEqual(await engine.deliverWebhooks(), { delivered: 0, retried: 2, dead: 0 });
    for (const [index, delaySeconds] of WEBHOOK_RETRY_DELAYS_SECONDS.entries()) {
      // Due no earlier than the delay, and no later than the delay plus 10 % jitter.
      clock.set(start + elapsedMs + delaySeconds * 1000 - 1);
      assert.deepEqual(
        await engine.deliverWebhooks(),
        { delivered: 0, retried: 0, dead: 0 },
        `early ${index}`,
      );
      clock.set(start + elapsedMs + Math.ceil(delaySeconds * 1100));
      elapsedMs = clock.now() - start;
      const last = index === WEBHOOK_RETRY_DELAYS_SECONDS.length - 1;
      assert.deepEqual(await engine.deliverWebhooks(), {
        delivered: 0,
        retried: last ? 0 : 2,
        dead: last ? 2 : 0,
      });
    }
    assert.equal(box.attempts.length, 2 * WEBHOOK_MAX_ATTEMPTS);
    assert.deepEqual(
      box.attempts.filter((m) => m.type === 'user.created').map((m) => m.attempt),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    const ids = new Set(box.attempts.filter((m) => m.type === 'user.created').map((m) => m.id));
    assert.equal(ids.size, 1, 'every attempt carries the same webhook-id');
    const dead = await engine.listWebhookEvents('dead');
    assert.equal(dead.length, 2);
    assert.deepEqual(
      dead.map(({ attempts, lastError, nextAttemptAt }) => ({ attempts, lastError, nextAttemptAt })),
      [
        { attempts: 8, lastError: 'receiver down', nextAttemptAt: null },
        { attempts: 8, lastError: 'receiver down', nextAttemptAt: null },
      ],
    );
    clock.advance(7 * 86_400_000);
    assert.deepEqual(
      await engine.deliverWebhooks(),
      { delivered: 0, retried: 0, dead: 0 },
      'dead stays dead',
    );

    box.failing = false;
    const [first] = dead;
    assert.equal(await engine.replayWebhookEvent(must(first).id), true);
    assert.equal(await engine.replayWebhookEvent(must(first).id), false, 'pending already');
    assert.equal(await engine.replayWebhookEvent('msg_unknown'), false);
    assert.equal(await engine.replayWebhookEvent('../../etc'), false);
    assert.deepEqual(await engine.deliverWebhooks(), { delivered: 1, retried: 0, dead: 0 });
    assert.equal(box.delivered[0]?.id, first?.id);
    assert.equal(box.delivered[0]?.attempt, 1, 'a replay starts the schedule again');
    assert.equal((await engine.listWebhookEvents('dead')).length, 1);
    await assert.rejects(engine.listWebhookEvents('lost' as 'dead'), /state/);
    await assert.rejects(engine.listWebhookEvents('dead', 0), /limit/);
  });

  it('jitters retry delays upward by at most 10 %', () => {
    assert.equal(retryDelayMs(1, 0), 5000);
    assert.equal(retryDelayMs(1, 1), 5500);
    assert.equal(retryDelayMs(2, 0.5), 315_000);
    assert.equal(retryDelayMs(7, 0), 36_000_000);
    assert.equal(retryDelayMs(8, 0), null, 'the 8th failure is the last');
  });

  it('fails an attempt that outlives its timeout, aborting its signal', async () => {
    const signals: AbortSignal[] = [];
    const { engine, store } = await createEngineFixture({
      webhookTimeoutSeconds: 1,
      deliver: (message) => {
        signals.push(message.signal);
        return new Promise(() => {});
      },
    });
    await engine.register({ email: 'ada@example.com', password: PASSWORD });
    assert.deepEqual(await engine.deliverWebhooks(), { delivered: 0, retried: 2, dead: 0 });
    assert.ok(signals.every((signal) => signal.aborted));
    const pending = await store.listOutbox('pending', 10);
    assert.deepEqual(
      pending.map((e) => [e.attempts, e.lastError]),
      [
        [1, 'timed out after 1 s'],
        [1, 'timed out after 1 s'],
      ],
    );
  });

  it('leaves an event leased by a worker that died alone until the lease runs out', async () => {
    const box = inbox();
    const { engine, store, clock } = await createEngineFixture({
      deliver: box.deliver,
      webhookTimeoutSeconds: 5,
    });
    await engine.register({ email: 'ada@example.com', password: PASSWORD });
    // Another process claimed both events, then was killed before it recorded anything.
    assert.equal((await store.claimOutbox(clock.now(), 10, 15_000, 'killed-worker')).length, 2);
    assert.deepEqual(await engine.deliverWebhooks(), { delivered: 0, retried: 0, dead: 0 });
    clock.advance(14_999);
    assert.deepEqual(await engine.deliverWebhooks(), { delivered: 0, retried: 0, dead: 0 });
    clock.advance(1);
    assert.deepEqual(await engine.deliverWebhooks(), { delivered: 2, retried: 0, dead: 0 });
    // The dead worker's late report is ignored: the events stay delivered.
    await store.finishOutboxAttempt(must(box.delivered[0]).id, 'killed-worker', {
      delivered: false,
      atMs: clock.now(),
      nextAttemptAtMs: clock.now(),
      error: 'late',
    });
    assert.equal((await store.listOutbox('delivered', 10)).length, 2);
  });

  it('keeps one-time tokens sealed in the outbox and out of listings and failure texts', async () => {
    const box = inbox();
    const { engine, store } = await createEngineFixture({ deliver: box.deliver });
    await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await engine.deliverWebhooks();
    box.failing = (message) => new Error(`could not mail ${String(message.data.token)} to ada`);
    await engine.requestPasswordReset({ email: 'ada@example.com' });
    const [stored] = await store.listOutbox('pending', 10);
    assert.equal(stored?.type, 'password_reset.requested');
    assert.equal(stored?.data.token, undefined);
    assert.equal(typeof stored?.data.sealed_token, 'string');
    await engine.deliverWebhooks();
    const message = must(box.attempts.at(-1));
    const token = String(message.data.token);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(!JSON.stringify(await store.listOutbox('pending', 10)).includes(token), 'not in the row');
    const [listed] = await engine.listWebhookEvents('pending');
    assert.equal(listed?.data.token, '[redacted]');
    assert.equal(listed?.lastError, 'could not mail [redacted] to ada');
    // The store keeps the token's SHA-256 only: it redeems by that hash.
    const hash = createHash('sha256').update(token).digest('base64url');
    assert.equal(
      (await store.redeemOneTimeToken(hash, 'password_reset', Date.UTC(2030, 0, 1, 0, 1))).status,
      'redeemed',
    );
  });

  it('delivers in the background once started, woken by each write, and stops on close', async (t) => {
    const box = inbox();
    const waiters: Array<[number, () => void]> = [];
    const deliveredCount = (n: number) =>
      new Promise<void>((resolve) => {
        if (box.delivered.length >= n) resolve();
        else waiters.push([n, resolve]);
      });
    const { engine, store, clock } = await createEngineFixture({
      deliver: async (message) => {
        await box.deliver(message);
        for (const [n, resolve] of waiters) if (box.delivered.length >= n) resolve();
      },
    });
    await store.appendOutbox([
      { id: 'msg_backlog', type: 'user.created', data: {}, createdAtMs: clock.now() },
    ]);
    // The worker's timers do not hold a process open (unref'd); this test holds it while it waits.
    const alive = setInterval(() => {}, 1000);
    t.after(() => clearInterval(alive));
    const stop = engine.startOutboxWorker(3600);
    await deliveredCount(1);
    // The start's own pass took the backlog; the next timer pass is an hour away, so only the
    // write's wake-up can deliver its events now.
    await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await deliveredCount(3);
    assert.deepEqual(box.delivered.map((m) => m.type).sort(), [
      'session.created',
      'user.created',
      'user.created',
    ]);
    stop();
    assert.throws(() => engine.startOutboxWorker(0), /intervalSeconds/);
    await engine.close();
  });

  it('aborts the attempts in flight on close and records them for a retry, even when deliver ignores its signal', async (t) => {
    let arrived: () => void = () => {};
    const arrival = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const { engine, store } = await createEngineFixture({
      webhookTimeoutSeconds: 120,
      deliver: () => {
        arrived();
        return new Promise(() => {});
      },
    });
    await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const alive = setInterval(() => {}, 1000);
    t.after(() => clearInterval(alive));
    engine.startOutboxWorker(3600);
    await arrival;
    const started = performance.now();
    await engine.close();
    assert.ok(performance.now() - started < 5000, 'close did not wait for the 120 s timeout');
    const pending = await store.listOutbox('pending', 10);
    assert.equal(pending.length, 2);
    for (const event of pending) {
      assert.deepEqual([event.attempts, event.lastError], [1, 'aborted: the worker shut down']);
    }
  });
});
