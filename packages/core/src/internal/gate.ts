/**
 * Runs at most `limit` tasks at once; the rest wait their turn in arrival order. Password hashing goes
 * through one, so a login flood queues instead of taking every core from the event loop.
 */
export function createGate(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running += 1;
    try {
      return await task();
    } finally {
      running -= 1;
      waiting.shift()?.();
    }
  };
}
