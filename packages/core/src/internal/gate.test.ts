import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createGate } from './gate.ts';

it('runs at most `limit` tasks at once, in arrival order, and frees its slot on failure', async () => {
  const gate = createGate(2);
  let running = 0;
  let peak = 0;
  const order: number[] = [];
  const task =
    (n: number, fail = false) =>
    async () => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setImmediate(resolve));
      running -= 1;
      order.push(n);
      if (fail) throw new Error('boom');
      return n;
    };
  const results = await Promise.allSettled([1, 2, 3, 4, 5, 6].map((n) => gate(task(n, n === 2))));
  assert.equal(peak, 2);
  assert.deepEqual(order, [1, 2, 3, 4, 5, 6]);
  assert.equal(results[1]?.status, 'rejected');
  assert.deepEqual(
    results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value),
    [1, 3, 4, 5, 6],
  );
});
