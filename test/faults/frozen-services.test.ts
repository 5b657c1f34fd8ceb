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
import {
  type Answer,
  ask,
  describeAnswer,
  describeOutcome,
  eventually,
  isTessera503,
  type Outcome,
  pause,
} from './http-probe.ts';
import {
  assertSessionsIntact,
  everyClientRotatesAgain,
  type RefreshClient,
  type RefreshLoad,
  registerClients,
  slowestMs,
  startRefreshLoad,
  tally,
} from './refresh-load.ts';
import { terminate } from './terminate.ts';

const FREEZE_MS = 10_000;

/** A private service the scenario freezes. */
interface Service {
  env: Record<string, string>;
  pids(): number[];
  close(): Promise<void> | void;
}

/** One frozen-service scenario. */
interface FreezeScenario {
  start(): Promise<Service>;
  /** Settings beside the service's. */
  env: Record<string, string>;
  /** No request may take longer. */
  boundMs: number;
  /** Client pacing (ms between a client's requests), to stay under rate limits when they are on. */
  intervalMs?: number;
  /** Rotations acknowledged before the freeze. */
  warmRotations: number;
  /** Requests made while frozen, with a fresh user each; each returns its answer and what it must be. */
  whileFrozen(url: string, user: RefreshClient): Promise<Array<[string, Answer | string, boolean]>>;
  /** Whether a load request's outcome keeps the promise. */
  acceptable(outcome: Outcome): boolean;
}

/**
 * Six clients refresh in a loop; the service is frozen (SIGSTOP) for 10 s, then thawed. Every request
 * must settle within the bound with an acceptable outcome, and every session must come through.
 */
async function freezeUnderLoad(scenario: FreezeScenario, report: (line: string) => void): Promise<void> {
  const service = await scenario.start();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-frozen-'));
  let server: ChildServer | undefined;
  let frozen: Frozen | undefined;
  let load: RefreshLoad | undefined;
  try {
    server = await startChildServer({
      ...service.env,
      ...scenario.env,
      TESSERA_PORT: String(await freePort()),
      TESSERA_DATA_DIR: dataDir,
      TESSERA_SECRET: randomBytes(32).toString('base64url'),
    });
    const { url } = server;
    const clients = await registerClients([url], 6);
    const [user] = (await registerClients([url], 1)) as [RefreshClient];
    const running = startRefreshLoad(clients, {
      urls: () => [url],
      deadlineMs: scenario.boundMs,
      ...(scenario.intervalMs ? { intervalMs: scenario.intervalMs } : {}),
    });
    load = running;
    await eventually('rotations before the freeze', 10_000, async () => {
      return running.acknowledged() >= scenario.warmRotations;
    });

    frozen = freeze(service.pids());
    running.phase = 'frozen';
    const started = performance.now();
    const probes = await scenario.whileFrozen(url, user);
    await pause(FREEZE_MS - (performance.now() - started));
    frozen.thaw();
    running.phase = 'thawed';
    await eventually('every client rotates after the thaw', 20_000, everyClientRotatesAgain(clients));
    await running.stop();

    report(
      `while frozen: ${JSON.stringify(tally(running.records, 'frozen'))}, slowest ${slowestMs(running.records, 'frozen').toFixed(0)} ms`,
    );
    for (const [what, answer, ok] of probes) {
      assert.ok(ok, `${what}: ${typeof answer === 'string' ? answer : describeAnswer(answer)}`);
    }
    for (const { phase, outcome } of running.records) {
      assert.ok(scenario.acceptable(outcome), `${phase}: ${describeOutcome(outcome)}`);
    }
    await assertSessionsIntact(url, clients);
  } finally {
    frozen?.thaw();
    await load?.stop();
    if (server) await terminate(server);
    await service.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Sends a request while frozen; a missing answer becomes its reason. */
async function probe(url: string, method: string, path: string, options: Parameters<typeof ask>[3]) {
  return ask(url, method, path, options).catch((error: Error) => error.message);
}

describe('fault: a frozen service (SIGSTOP: connections open, nothing answers)', () => {
  it('Redis frozen for 10 s: logins, refreshes and logouts still answer within 3 s', {
    timeout: 90_000,
    skip: skipReason(privateRedisProblem()),
  }, async (t) => {
    const boundMs = 3000;
    await freezeUnderLoad(
      {
        async start() {
          const redis = await startPrivateRedis();
          return {
            env: { TESSERA_REDIS_URL: redis.url },
            pids: () => redisPids(redis.url),
            close: () => redis.stop(),
          };
        },
        // Rate limits on: their counters live in Redis. About 50 refreshes a minute per session.
        env: {},
        intervalMs: 1200,
        boundMs,
        warmRotations: 8,
        async whileFrozen(url, user) {
          const login = await probe(url, 'POST', '/auth/login', {
            json: { email: user.email, password: PASSWORD },
            deadlineMs: boundMs,
          });
          const logout = await probe(url, 'POST', '/auth/logout', {
            token: user.accessToken,
            deadlineMs: boundMs,
          });
          return [
            ['login', login, typeof login !== 'string' && login.status === 200],
            ['logout', logout, typeof logout !== 'string' && logout.status === 204],
          ];
        },
        acceptable: (outcome) => outcome.kind === 'answer' && outcome.answer.status === 200,
      },
      (line) => t.diagnostic(line),
    );
  });

  it('PostgreSQL frozen for 10 s: every request answers (a rotation or a clean 503) within 5 s, then recovers', {
    timeout: 90_000,
    skip: skipReason(privatePostgresProblem()),
  }, async (t) => {
    const boundMs = 5000;
    await freezeUnderLoad(
      {
        async start() {
          const pg = await startPrivatePostgres();
          return {
            env: { TESSERA_DATABASE_URL: pg.url },
            pids: () => postgresPids(pg.url),
            close: () => pg.destroy(),
          };
        },
        // A rotation held by the freeze may commit after its request gave up: the retry is the
        // grace window's case, which must outlast the freeze.
        env: { TESSERA_RATE_LIMIT: 'off', TESSERA_REUSE_GRACE: '30s' },
        boundMs,
        warmRotations: 60,
        async whileFrozen(url) {
          const health = await probe(url, 'GET', '/healthz', { deadlineMs: boundMs });
          return [['healthz', health, typeof health !== 'string' && health.status === 503]];
        },
        acceptable: (outcome) =>
          outcome.kind === 'answer' &&
          (outcome.answer.status === 200 || isTessera503(outcome.answer, 'service_unavailable')),
      },
      (line) => t.diagnostic(line),
    );
  });
});
