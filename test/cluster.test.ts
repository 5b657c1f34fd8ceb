import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createVerifier, type Verifier } from '@tessera/verify';
import { type ChildServer, freePort, startChildServer, stopChildServer } from './helpers/child-server.ts';
import { call, PASSWORD } from './helpers/server.ts';
import {
  type PrivatePostgres,
  type PrivateRedis,
  privatePostgresProblem,
  privateRedisProblem,
  skipReason,
  startPrivatePostgres,
  startPrivateRedis,
} from './helpers/services.ts';

const skip = skipReason(privatePostgresProblem() ?? privateRedisProblem());
const SERVICE_TOKEN = randomBytes(24).toString('base64url');

let pg: PrivatePostgres;
let redis: PrivateRedis;
let dataDir: string;
const instances: ChildServer[] = [];
let env: Record<string, string>;
/** The resource service: verifies tokens locally, following instance A's revocation feed. */
let resource: Verifier;

/** True once the resource service refuses `token` (bounded wait: the feed is asynchronous). */
async function refusedByResource(token: string, ms = 3000): Promise<void> {
  await eventually(
    () =>
      resource.verify(token).then(
        () => false,
        () => true,
      ),
    ms,
  );
}

async function startInstance(): Promise<ChildServer> {
  const port = await freePort();
  const server = await startChildServer({
    ...env,
    TESSERA_PORT: String(port),
    TESSERA_DATA_DIR: join(dataDir, String(port)),
  });
  return server;
}

/** Retries `probe` until it returns true, for at most `ms` (bounded; for real network recovery only). */
async function eventually(probe: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`condition not met within ${ms} ms`);
}

describe('three instances over one PostgreSQL and one Redis', { skip }, () => {
  before(async () => {
    pg = await startPrivatePostgres();
    redis = await startPrivateRedis();
    dataDir = mkdtempSync(join(tmpdir(), 'tessera-cluster-'));
    env = {
      // The pool and the refresh batches sized through the URL, as an operator would.
      TESSERA_DATABASE_URL: `${pg.url}?max_connections=4&rotation_batch_size=8&rotation_batches_in_flight=2`,
      TESSERA_REDIS_URL: redis.url,
      TESSERA_SECRET: randomBytes(32).toString('base64url'),
      TESSERA_ISSUER: 'http://tessera.test',
      TESSERA_SERVICE_TOKEN: SERVICE_TOKEN,
      TESSERA_RATE_LIMIT: 'off',
    };
    // All three start at once: migrations and the first signing key must survive the race.
    instances.push(...(await Promise.all([startInstance(), startInstance(), startInstance()])));
    const a = instances[0] as ChildServer;
    resource = createVerifier({
      issuer: 'http://tessera.test',
      audience: 'http://tessera.test',
      jwksUrl: `${a.url}/.well-known/jwks.json`,
      revocationsUrl: `${a.url}/auth/revocations`,
      introspectionUrl: `${a.url}/oauth/introspect`,
      serviceToken: SERVICE_TOKEN,
    });
    await resource.ready();
  });
  after(async () => {
    await resource?.close();
    await Promise.all(instances.map((i) => stopChildServer(i)));
    await redis?.stop();
    pg?.destroy();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('logs in on A, refreshes on B, logs out on C; every instance then rejects the access token', async () => {
    const [a, b, c] = instances as [ChildServer, ChildServer, ChildServer];
    const login = await call(a.url, 'POST', '/auth/register', {
      json: { email: 'ada@example.com', password: PASSWORD },
    });
    assert.equal(login.status, 201, login.text);
    const refreshed = await call(b.url, 'POST', '/auth/refresh', {
      json: { refresh_token: login.body.refresh_token },
    });
    assert.equal(refreshed.status, 200, refreshed.text);
    for (const instance of instances) {
      assert.equal(
        (await call(instance.url, 'GET', '/auth/me', { token: refreshed.body.access_token })).status,
        200,
      );
    }
    assert.equal((await resource.verify(refreshed.body.access_token)).sid, login.body.session_id);
    const out = await call(c.url, 'POST', '/auth/logout', {
      json: { refresh_token: refreshed.body.refresh_token },
    });
    assert.equal(out.status, 204);
    for (const instance of instances) {
      const me = await call(instance.url, 'GET', '/auth/me', { token: refreshed.body.access_token });
      assert.equal(me.status, 401);
    }
    // The logout happened on C; the resource service follows A's feed: the bus carried it across.
    await refusedByResource(refreshed.body.access_token);
  });

  it('rotates once when one token reaches all three instances at once, and detects reuse anywhere', async () => {
    const [a, b, c] = instances as [ChildServer, ChildServer, ChildServer];
    const login = await call(a.url, 'POST', '/auth/register', {
      json: { email: 'bob@example.com', password: PASSWORD },
    });
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        call((instances[i % 3] as ChildServer).url, 'POST', '/auth/refresh', {
          json: { refresh_token: login.body.refresh_token },
        }),
      ),
    );
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
    assert.equal(new Set(results.map((r) => r.body.refresh_token)).size, 1);
    const second = results[0]?.body;
    const third = await call(b.url, 'POST', '/auth/refresh', {
      json: { refresh_token: second.refresh_token },
    });
    assert.equal(third.status, 200);
    // The first token is now two generations old: reuse, whichever instance sees it.
    const reuse = await call(c.url, 'POST', '/auth/refresh', {
      json: { refresh_token: login.body.refresh_token },
    });
    assert.equal(reuse.body.error, 'invalid_grant');
    for (const instance of instances) {
      assert.equal(
        (await call(instance.url, 'GET', '/auth/me', { token: third.body.access_token })).status,
        401,
      );
    }
    await refusedByResource(third.body.access_token);
    assert.ok(c.output().includes('reuse detected'));
  });

  it('publishes revocations to every instance feed through Redis', async () => {
    const [a, , c] = instances as [ChildServer, ChildServer, ChildServer];
    const login = await call(a.url, 'POST', '/auth/register', {
      json: { email: 'feed@example.com', password: PASSWORD },
    });
    await call(a.url, 'POST', '/auth/logout', { token: login.body.access_token });
    await eventually(async () => {
      const snapshot = await call(c.url, 'GET', '/auth/revocations', {
        headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
      });
      return snapshot.body.revocations.some((r: { sid?: string }) => r.sid === login.body.session_id);
    }, 3000);
  });

  it('loses no session when an instance is killed', async () => {
    const b = instances[1] as ChildServer;
    const login = await call(b.url, 'POST', '/auth/register', {
      json: { email: 'kill@example.com', password: PASSWORD },
    });
    await stopChildServer(b, 'SIGKILL');
    const a = instances[0] as ChildServer;
    const refreshed = await call(a.url, 'POST', '/auth/refresh', {
      json: { refresh_token: login.body.refresh_token },
    });
    assert.equal(refreshed.status, 200);
    instances[1] = await startInstance();
  });

  it('keeps login, refresh and revocation working while Redis is down', async () => {
    const [a, b, c] = instances as [ChildServer, ChildServer, ChildServer];
    await redis.stop();
    const login = await call(a.url, 'POST', '/auth/register', {
      json: { email: 'noredis@example.com', password: PASSWORD },
    });
    assert.equal(login.status, 201, login.text);
    const refreshed = await call(b.url, 'POST', '/auth/refresh', {
      json: { refresh_token: login.body.refresh_token },
    });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal(
      (await call(c.url, 'POST', '/auth/logout', { token: refreshed.body.access_token })).status,
      204,
    );
    for (const instance of instances) {
      assert.equal(
        (await call(instance.url, 'GET', '/auth/me', { token: refreshed.body.access_token })).status,
        401,
      );
    }
    // Without Redis the revocation still reaches the resource service: A's feed polls the database.
    await refusedByResource(refreshed.body.access_token, 5000);
    // The feeds poll the database, so they learn the revocation without the bus.
    await eventually(async () => {
      const snapshot = await call(a.url, 'GET', '/auth/revocations', {
        headers: { authorization: `Bearer ${SERVICE_TOKEN}` },
      });
      return snapshot.body.revocations.some((r: { sid?: string }) => r.sid === login.body.session_id);
    }, 5000);
    await redis.start();
  });

  it('answers 503 while PostgreSQL restarts, then recovers without restarting the instances', async () => {
    const a = instances[0] as ChildServer;
    const login = await call(a.url, 'POST', '/auth/register', {
      json: { email: 'pg@example.com', password: PASSWORD },
    });
    pg.stop();
    try {
      const refresh = await call(a.url, 'POST', '/auth/refresh', {
        json: { refresh_token: login.body.refresh_token },
      });
      assert.equal(refresh.status, 503, refresh.text);
      assert.equal(refresh.body.error, 'service_unavailable');
      const me = await call(a.url, 'GET', '/auth/me', { token: login.body.access_token });
      assert.equal(me.status, 503);
      const health = await call(a.url, 'GET', '/healthz');
      assert.equal(health.status, 503);
    } finally {
      pg.start();
    }
    let token = login.body.refresh_token as string;
    await eventually(async () => {
      const refresh = await call(a.url, 'POST', '/auth/refresh', { json: { refresh_token: token } });
      if (refresh.status === 200) token = refresh.body.refresh_token;
      return refresh.status === 200;
    }, 10_000);
    for (const instance of instances) {
      assert.equal((await call(instance.url, 'GET', '/healthz')).status, 200);
    }
  });
});
