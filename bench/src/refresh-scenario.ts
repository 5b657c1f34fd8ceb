import type { Agent } from 'node:http';
import { postJson } from './load.ts';

/** The password of every benchmark user. */
export const PASSWORD = 'bench password that is long enough';

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
