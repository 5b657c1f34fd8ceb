// For this package's tests only: the Redis they run against.
import { Redis } from 'ioredis';

/** The local Redis every machine of this project runs; each test uses a key prefix of its own. */
export const TEST_REDIS_URL: string = process.env.TESSERA_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/**
 * Why the test server cannot be used, or `null`. Under `CI=true` a missing server throws (a test
 * needing Redis must fail there); elsewhere the reason is printed and the caller skips.
 */
export async function testRedisProblem(): Promise<string | null> {
  const client = new Redis(TEST_REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    if ((await client.ping()) === 'PONG') return null;
  } catch {
    // Reported below.
  } finally {
    client.disconnect();
  }
  const problem = `Redis is not reachable at ${TEST_REDIS_URL}`;
  if (process.env.CI === 'true') throw new Error(`CI requires ${problem}`);
  process.stdout.write(`# skipped: ${problem}\n`);
  return problem;
}
