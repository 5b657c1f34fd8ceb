import { Agent } from 'node:http';
import { type LoadResult, postJson, runLoad } from './load.ts';

const PASSWORD = 'bench password that is long enough';

/** Registers `count` users (one session each) spread over `urls`; returns their refresh tokens. */
export async function createSessions(
  urls: readonly string[],
  count: number,
  agent: Agent,
): Promise<string[]> {
  const tokens: string[] = [];
  const batch = 16;
  for (let start = 0; start < count; start += batch) {
    const created = await Promise.all(
      Array.from({ length: Math.min(batch, count - start) }, async (_, i) => {
        const n = start + i;
        const url = new URL('/auth/register', urls[n % urls.length]);
        const response = await postJson(
          agent,
          url,
          JSON.stringify({
            email: `bench${n}-${Math.random().toString(36).slice(2)}@example.com`,
            password: PASSWORD,
          }),
        );
        if (response.status !== 201) throw new Error(`register failed: ${response.status} ${response.body}`);
        return (JSON.parse(response.body) as { refresh_token: string }).refresh_token;
      }),
    );
    tokens.push(...created);
  }
  return tokens;
}

/**
 * Closed-loop refresh load: one worker per session, each rotating its own refresh token back to back
 * (rotate + sign + store write per request), spread over `urls` round robin.
 */
export async function measureRefresh(
  urls: readonly string[],
  options: { workers: number; seconds: number; warmupSeconds?: number },
): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.workers * 2 });
  const tokens = await createSessions(urls, options.workers, agent);
  const step = async (worker: number) => {
    const url = new URL('/auth/refresh', urls[worker % urls.length]);
    const response = await postJson(agent, url, `{"refresh_token":"${tokens[worker]}"}`);
    if (response.status !== 200) return false;
    tokens[worker] = (JSON.parse(response.body) as { refresh_token: string }).refresh_token;
    return true;
  };
  if (options.warmupSeconds) await runLoad(options.workers, options.warmupSeconds, step);
  const result = await runLoad(options.workers, options.seconds, step);
  agent.destroy();
  return result;
}
