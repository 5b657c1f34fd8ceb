import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createVerifier, type Verifier } from '@tessera/verify';
import { type ChildServer, freePort, startChildServer } from '../helpers/child-server.ts';
import { PASSWORD } from '../helpers/server.ts';
import {
  type PrivateRedis,
  privateRedisProblem,
  sharedPostgresProblem,
  skipReason,
  startPrivateRedis,
} from '../helpers/services.ts';
import { ask, describeAnswer, describeOutcome, eventually, pause } from './http-probe.ts';
import { sharedSchema } from './postgres-schema.ts';
import { keysMatching, subscriberCount, watchChannel } from './redis-observer.ts';
import {
  assertSessionsIntact,
  everyClientRotatesAgain,
  type RefreshClient,
  registerClients,
  slowestMs,
  startRefreshLoad,
  tally,
} from './refresh-load.ts';
import { terminate } from './terminate.ts';

const OUTAGE_MS = 20_000;
/**
 * How long a revocation may take to reach another instance's feed and a resource service without
 * the bus: the feed polls the database every second (docs/scaling.md), plus delivery on a busy machine.
 */
const POLL_BOUND_MS = 3000;
const SERVICE_TOKEN = randomBytes(24).toString('base64url');

/** How long one logout took to reach each observer, in milliseconds. */
interface Reach {
  instanceB: number;
  feedB: number;
  resource: number;
}

/**
 * Starts a session on A, checks that the resource service accepts its token, logs it out on A, and
 * measures how long B's own routes, B's revocation feed and the resource service (following B's feed)
 * take to refuse it.
 */
async function logoutReaches(a: string, b: string, resource: Verifier, boundMs: number): Promise<Reach> {
  const [user] = (await registerClients([a], 1)) as [RefreshClient];
  await resource.verify(user.accessToken);
  const out = await ask(a, 'POST', '/auth/logout', { token: user.accessToken });
  assert.equal(out.status, 204, describeAnswer(out));
  const instanceB = eventually('B refuses the token', boundMs, async () => {
    return (await ask(b, 'GET', '/auth/me', { token: user.accessToken })).status === 401;
  });
  const feedB = eventually("B's feed lists the revocation", boundMs, async () => {
    const snapshot = await ask(b, 'GET', '/auth/revocations', {
      headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
    });
    return snapshot.body.revocations.some((r: { sid?: string }) => r.sid === user.sessionId);
  });
  const refused = eventually('the resource service refuses the token', boundMs, async () =>
    resource.verify(user.accessToken).then(
      () => false,
      () => true,
    ),
  );
  return { instanceB: await instanceB, feedB: await feedB, resource: await refused };
}

describe('fault: Redis stopped for 20 s under two instances and a resource service', {
  skip: skipReason(privateRedisProblem() ?? sharedPostgresProblem()),
}, () => {
  it('keeps logins and refreshes working, revocations reach B and @tessera/verify through the database poll, reconnects by itself', {
    timeout: 120_000,
  }, async (t) => {
    const schema = sharedSchema('faults_redis');
    const redis: PrivateRedis = await startPrivateRedis();
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-redis-outage-'));
    const instances: ChildServer[] = [];
    let redisUp = true;
    let resource: Verifier | undefined;
    try {
      const ports = [await freePort(), await freePort()];
      const env = {
        TESSERA_DATABASE_URL: schema.url,
        TESSERA_REDIS_URL: redis.url,
        TESSERA_SECRET: randomBytes(32).toString('base64url'),
        // One issuer for both instances; a loopback one, so the service routes serve loopback.
        TESSERA_ISSUER: `http://127.0.0.1:${ports[0]}`,
        TESSERA_SERVICE_TOKEN: SERVICE_TOKEN,
        // Rate limits stay on (their counters live in Redis and must fall back without it); the
        // load below keeps under the defaults.
      };
      for (const port of ports) {
        instances.push(
          await startChildServer({
            ...env,
            TESSERA_PORT: String(port),
            TESSERA_DATA_DIR: join(dataDir, String(port)),
          }),
        );
      }
      const [a, b] = instances.map((i) => i.url) as [string, string];
      resource = createVerifier({
        issuer: env.TESSERA_ISSUER,
        audience: env.TESSERA_ISSUER,
        jwksUrl: `${b}/.well-known/jwks.json`,
        revocationsUrl: `${b}/auth/revocations`,
        introspectionUrl: `${b}/oauth/introspect`,
        serviceToken: SERVICE_TOKEN,
        // Refuse rather than introspect when stale, so a refusal below comes from the feed.
        onStale: 'reject',
      });
      await resource.ready();

      const clients = await registerClients([a, b], 6);
      const [loginUser] = (await registerClients([a], 1)) as [RefreshClient];
      // About 50 refreshes a minute per session, under the default limit of 60.
      const load = startRefreshLoad(clients, {
        urls: () => [a, b],
        intervalMs: 1200,
        deadlineMs: 5000,
        maxMs: 90_000,
      });
      await eventually('refreshes before the outage', 10_000, async () => load.acknowledged() >= 12);
      const withBus = await logoutReaches(a, b, resource, POLL_BOUND_MS);

      await redis.stop();
      redisUp = false;
      load.phase = 'outage';
      const outageStarted = performance.now();
      const early = await logoutReaches(a, b, resource, POLL_BOUND_MS);
      const loginB = await ask(b, 'POST', '/auth/login', {
        json: { email: loginUser.email, password: PASSWORD },
        deadlineMs: 20_000,
      });
      assert.equal(loginB.status, 200, `login on B without Redis: ${describeAnswer(loginB)}`);
      // Late in the outage, after the Redis clients have been through their reconnect backoff.
      await pause(OUTAGE_MS - 5000 - (performance.now() - outageStarted));
      const late = await logoutReaches(a, b, resource, POLL_BOUND_MS);
      await pause(OUTAGE_MS - (performance.now() - outageStarted));

      await redis.start();
      redisUp = true;
      load.phase = 'recovered';
      // Both instances' subscribers come back by themselves (their backoff is capped at 2 s) ...
      await eventually('both instances subscribe again', 10_000, async () => subscriberCount(redis.url) >= 2);
      // ... A publishes there again, and the rate limiter counts there again.
      const watch = await watchChannel(redis.url);
      let afterBus: Reach;
      try {
        afterBus = await logoutReaches(a, b, resource, POLL_BOUND_MS);
        const published = await registerClients([a], 1);
        await ask(a, 'POST', '/auth/logout', { token: published[0]?.accessToken as string });
        await eventually('A publishes on the bus again', 5000, async () =>
          watch.heard(published[0]?.sessionId as string),
        );
      } finally {
        watch.close();
      }
      await eventually(
        'the rate limiter counts in Redis again',
        10_000,
        async () => keysMatching(redis.url, 'tessera:rl:*').length > 0,
      );
      await eventually('every client refreshes after the outage', 15_000, everyClientRotatesAgain(clients));
      await load.stop();

      t.diagnostic(
        `revocation reach in ms (B's routes / B's feed / resource): with the bus ${JSON.stringify(withBus)}, ` +
          `outage start ${JSON.stringify(early)}, outage end ${JSON.stringify(late)}, after ${JSON.stringify(afterBus)}`,
      );
      t.diagnostic(
        `load: ${JSON.stringify(tally(load.records))}; slowest during the outage ${slowestMs(load.records, 'outage').toFixed(0)} ms`,
      );
      assert.ok(tally(load.records, 'outage')['200'], 'refreshes were made during the outage');
      for (const record of load.records) {
        assert.ok(
          record.outcome.kind === 'answer' && record.outcome.answer.status === 200,
          `${record.phase}: ${describeOutcome(record.outcome)}`,
        );
      }
      assert.ok(slowestMs(load.records, 'outage') < 2000, 'no refresh waited on the missing Redis');
      const status = resource.status();
      assert.equal(status.stale, false, 'the resource service followed the feed throughout');
      await assertSessionsIntact(a, clients);

      // Shutting down does not wait on a Redis that is away.
      await redis.stop();
      redisUp = false;
      const ends = await Promise.all(instances.map((instance) => terminate(instance, 10_000)));
      t.diagnostic(`SIGTERM with Redis away: exits after ${ends.map((e) => e.ms.toFixed(0)).join(', ')} ms`);
      for (const end of ends) {
        assert.ok(!end.killed && end.ms <= 5000, `exit ${end.ms.toFixed(0)} ms after SIGTERM`);
        assert.equal(end.code, 0);
      }
    } finally {
      await resource?.close();
      for (const instance of instances) await terminate(instance);
      // PrivateRedis.stop() never resolves when Redis is already stopped.
      if (redisUp) await redis.stop();
      await schema.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    for (const instance of instances)
      assert.doesNotMatch(instance.output(), /reuse detected/, 'no false reuse alarm');
  });
});
