import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type ChildServer, freePort, startChildServer } from '../helpers/child-server.ts';
import { PASSWORD } from '../helpers/server.ts';
import {
  privatePostgresProblem,
  privateRedisProblem,
  skipReason,
  startPrivatePostgres,
  startPrivateRedis,
} from '../helpers/services.ts';
import { type Frozen, freeze, postgresPids, redisPids } from './freeze.ts';
import { ask, describeAnswer, describeOutcome, eventually, isTessera503, pause } from './http-probe.ts';
import {
  assertSessionsIntact,
  type RefreshClient,
  type RefreshLoad,
  registerClients,
  slowestMs,
  startRefreshLoad,
  tally,
} from './refresh-load.ts';
import { terminate } from './terminate.ts';

const FREEZE_MS = 10_000;

// Known gaps, found by this suite and not fixed on this branch: the tests run and report, and the
// `todo` comes off when the fix lands (see docs/scaling.md, "Faults").
const REDIS_TODO =
  'packages/redis sets no command timeout: a silent Redis holds every refresh, login and logout';
const POSTGRES_TODO =
  'packages/postgres sets no query timeout: a request on an open connection to a silent PostgreSQL waits forever';

describe('fault: a frozen service (SIGSTOP: connections open, nothing answers)', () => {
  it('Redis frozen for 10 s: logins, refreshes and logouts still answer within 3 s', {
    timeout: 90_000,
    todo: REDIS_TODO,
    skip: skipReason(privateRedisProblem()),
  }, async (t) => {
    const bound = 3000;
    const redis = await startPrivateRedis();
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-frozen-redis-'));
    let server: ChildServer | undefined;
    let frozen: Frozen | undefined;
    let load: RefreshLoad | undefined;
    try {
      server = await startChildServer({
        TESSERA_PORT: String(await freePort()),
        TESSERA_DATA_DIR: dataDir,
        TESSERA_SECRET: randomBytes(32).toString('base64url'),
        TESSERA_REDIS_URL: redis.url,
      });
      const { url } = server;
      const clients = await registerClients([url], 4);
      const [loginUser, logoutUser] = (await registerClients([url], 2)) as [RefreshClient, RefreshClient];
      // Rate limits on (their counters are in Redis); about 50 refreshes a minute per session.
      const running = startRefreshLoad(clients, { urls: () => [url], intervalMs: 1200, deadlineMs: bound });
      load = running;
      await eventually('refreshes before the freeze', 10_000, async () => running.acknowledged() >= 8);

      frozen = freeze(redisPids(redis.url));
      running.phase = 'frozen';
      const started = performance.now();
      const login = await ask(url, 'POST', '/auth/login', {
        json: { email: loginUser.email, password: PASSWORD },
        deadlineMs: bound,
      }).catch((error: Error) => error.message);
      const logout = await ask(url, 'POST', '/auth/logout', {
        token: logoutUser.accessToken,
        deadlineMs: bound,
      }).catch((error: Error) => error.message);
      await pause(FREEZE_MS - (performance.now() - started));
      frozen.thaw();
      running.phase = 'thawed';
      const before = clients.map((c) => c.refreshes);
      await eventually('every client refreshes after the thaw', 15_000, async () =>
        clients.every((c, i) => c.refreshes > (before[i] ?? 0)),
      );
      await running.stop();

      t.diagnostic(
        `while frozen: ${JSON.stringify(tally(running.records, 'frozen'))}, slowest ${slowestMs(running.records, 'frozen').toFixed(0)} ms`,
      );
      assert.ok(typeof login !== 'string' && login.status === 200, `login: ${summary(login)}`);
      assert.ok(typeof logout !== 'string' && logout.status === 204, `logout: ${summary(logout)}`);
      for (const { phase, outcome } of running.records) {
        assert.ok(
          outcome.kind === 'answer' && outcome.answer.status === 200,
          `${phase}: ${describeOutcome(outcome)}`,
        );
      }
      await assertSessionsIntact(url, clients);
    } finally {
      frozen?.thaw();
      await load?.stop();
      if (server) await terminate(server);
      await redis.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('PostgreSQL frozen for 10 s: every request answers (a rotation or a clean 503) within 5 s, then recovers', {
    timeout: 90_000,
    todo: POSTGRES_TODO,
    skip: skipReason(privatePostgresProblem()),
  }, async (t) => {
    const bound = 5000;
    const pg = await startPrivatePostgres();
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-frozen-pg-'));
    let server: ChildServer | undefined;
    let frozen: Frozen | undefined;
    let load: RefreshLoad | undefined;
    try {
      server = await startChildServer({
        TESSERA_PORT: String(await freePort()),
        TESSERA_DATA_DIR: dataDir,
        TESSERA_SECRET: randomBytes(32).toString('base64url'),
        TESSERA_DATABASE_URL: pg.url,
        TESSERA_RATE_LIMIT: 'off',
        TESSERA_REUSE_GRACE: '30s',
      });
      const { url } = server;
      const clients = await registerClients([url], 6);
      const running = startRefreshLoad(clients, { urls: () => [url], deadlineMs: bound });
      load = running;
      await eventually('rotations before the freeze', 10_000, async () => running.acknowledged() >= 60);

      frozen = freeze(postgresPids(pg.url));
      running.phase = 'frozen';
      const started = performance.now();
      const health = await ask(url, 'GET', '/healthz', { deadlineMs: bound }).catch(
        (error: Error) => error.message,
      );
      await pause(FREEZE_MS - (performance.now() - started));
      frozen.thaw();
      running.phase = 'thawed';
      const before = clients.map((c) => c.refreshes);
      await eventually('every client rotates after the thaw', 20_000, async () =>
        clients.every((c, i) => c.refreshes > (before[i] ?? 0)),
      );
      await running.stop();

      t.diagnostic(
        `while frozen: ${JSON.stringify(tally(running.records, 'frozen'))}, slowest ${slowestMs(running.records, 'frozen').toFixed(0)} ms`,
      );
      assert.ok(typeof health !== 'string' && health.status === 503, `healthz: ${summary(health)}`);
      for (const { phase, outcome } of running.records) {
        assert.ok(
          outcome.kind === 'answer' &&
            (outcome.answer.status === 200 || isTessera503(outcome.answer, 'service_unavailable')),
          `${phase}: ${describeOutcome(outcome)}`,
        );
      }
      await assertSessionsIntact(url, clients);
    } finally {
      frozen?.thaw();
      await load?.stop();
      if (server) await terminate(server);
      pg.destroy();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** An answer, or why there was none. */
function summary(answer: Awaited<ReturnType<typeof ask>> | string): string {
  return typeof answer === 'string' ? answer : describeAnswer(answer);
}
