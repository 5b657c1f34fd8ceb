import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import type { BenchCluster } from './cluster.ts';
import { type LoadResult, postJson, runLoad } from './load.ts';
import { createSessions, measureRefresh } from './refresh-scenario.ts';

const PASSWORD = 'bench password that is long enough';

/** Resident memory of a process in MiB (Linux /proc), or NaN where unavailable. */
export function residentMiB(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    return kib / 1024;
  } catch {
    return Number.NaN;
  }
}

/**
 * Fills the SQLite file of a running single-instance cluster with `count` extra live sessions (one
 * user), straight through SQL in one transaction, so refresh can be measured against a big table.
 */
export function seedSessions(dbPath: string, count: number): void {
  const db = new DatabaseSync(dbPath, { timeout: 10_000 });
  const now = Date.now();
  const userId = randomBytes(16).toString('base64url');
  db.exec('BEGIN IMMEDIATE');
  db.prepare(
    `INSERT INTO users (id, email, password_hash, token_version, roles, profile, disabled, reauth_required, totp_secret, created_at, updated_at)
     VALUES (?, ?, 'x', 1, '[]', '{}', 0, 0, NULL, ?, ?)`,
  ).run(userId, `seed-${userId}@example.com`, now, now);
  const insert = db.prepare(
    `INSERT INTO sessions (id, user_id, created_at, auth_time, last_seen_at, idle_expires_at, absolute_expires_at,
       ip, user_agent, device_name, amr, generation, rotated_at, salt, revoked_at, revoke_reason)
     VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL, '["pwd"]', 1, ?, ?, NULL, NULL)`,
  );
  for (let i = 0; i < count; i += 1) {
    const id = randomBytes(16).toString('base64url');
    insert.run(
      id,
      userId,
      now,
      now,
      now,
      now + 86_400_000,
      now + 86_400_000,
      now,
      randomBytes(16).toString('base64url'),
    );
  }
  db.exec('COMMIT');
  db.close();
}

/**
 * Refresh latency while a login flood runs: `loginWorkers` loop on /auth/login (argon2id at OWASP
 * parameters, on libuv's pool) while `refreshWorkers` rotate their own sessions.
 */
export async function measureRefreshUnderLogins(
  cluster: BenchCluster,
  options: { seconds: number; loginWorkers: number; refreshWorkers: number },
): Promise<{ refresh: LoadResult; login: LoadResult }> {
  const url = cluster.urls[0] as string;
  const agent = new Agent({ keepAlive: true, maxSockets: 128 });
  const email = `flood-${Math.random().toString(36).slice(2)}@example.com`;
  await postJson(agent, new URL('/auth/register', url), JSON.stringify({ email, password: PASSWORD }));
  const tokens = await createSessions([url], options.refreshWorkers, agent);
  const loginBody = JSON.stringify({ email, password: PASSWORD });
  const [refresh, login] = await Promise.all([
    runLoad(options.refreshWorkers, options.seconds, async (worker) => {
      const response = await postJson(
        agent,
        new URL('/auth/refresh', url),
        `{"refresh_token":"${tokens[worker]}"}`,
      );
      if (response.status !== 200) return false;
      tokens[worker] = (JSON.parse(response.body) as { refresh_token: string }).refresh_token;
      // A steady, moderate refresh rate: the question is latency, not throughput.
      await new Promise((resolve) => setTimeout(resolve, 20));
      return true;
    }),
    runLoad(options.loginWorkers, options.seconds, async () => {
      const response = await postJson(agent, new URL('/auth/login', url), loginBody);
      return response.status === 200;
    }),
  ]);
  agent.destroy();
  return { refresh, login };
}

export { measureRefresh };
