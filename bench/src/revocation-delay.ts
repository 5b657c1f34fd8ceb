import { Agent } from 'node:http';
import { createVerifier } from '@tessera/verify';
import type { BenchCluster } from './cluster.ts';
import { percentile, postJson } from './load.ts';

const PASSWORD = 'bench password that is long enough';

/** Revocation delay percentiles, milliseconds. */
export interface DelayResult {
  count: number;
  instance: { p50: number; p99: number };
  resource: { p50: number; p99: number };
}

/**
 * The time from a logout call on instance A to rejection at instance B (its bearer route) and at a
 * resource service using `@tessera/verify` that follows instance C's feed: one session per sample,
 * revoked one after another.
 */
export async function measureRevocationDelay(cluster: BenchCluster, count: number): Promise<DelayResult> {
  const [a, b, c] = cluster.urls as [string, string, string];
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const email = `delay-${Math.random().toString(36).slice(2)}@example.com`;
  await postJson(agent, new URL('/auth/register', a), JSON.stringify({ email, password: PASSWORD }));
  // Sessions for the samples: logins in batches (argon2id at OWASP parameters costs tens of ms each).
  const sessions: Array<{ access: string; refresh: string }> = [];
  while (sessions.length < count) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(16, count - sessions.length) }, () =>
        postJson(agent, new URL('/auth/login', a), JSON.stringify({ email, password: PASSWORD })),
      ),
    );
    for (const r of batch) {
      const body = JSON.parse(r.body) as { access_token: string; refresh_token: string };
      sessions.push({ access: body.access_token, refresh: body.refresh_token });
    }
  }
  const verifier = createVerifier({
    issuer: 'http://tessera.bench',
    audience: 'http://tessera.bench',
    jwksUrl: `${c}/.well-known/jwks.json`,
    revocationsUrl: `${c}/auth/revocations`,
    serviceToken: cluster.env.TESSERA_SERVICE_TOKEN,
  });
  await verifier.ready();
  const instanceDelays: number[] = [];
  const resourceDelays: number[] = [];
  try {
    for (const session of sessions) {
      await verifier.verify(session.access);
      const started = performance.now();
      await postJson(agent, new URL('/auth/logout', a), JSON.stringify({ refresh_token: session.refresh }));
      const resourceDone = (async () => {
        for (let i = 0; i < 100_000; i += 1) {
          if (
            await verifier.verify(session.access).then(
              () => false,
              () => true,
            )
          )
            return performance.now() - started;
          await new Promise((resolve) => setImmediate(resolve));
        }
        return Number.POSITIVE_INFINITY;
      })();
      const me = await new Promise<number>((resolve, reject) => {
        const url = new URL('/auth/me', b);
        import('node:http').then(({ request }) => {
          const req = request(
            {
              agent,
              host: url.hostname,
              port: url.port,
              path: url.pathname,
              headers: { authorization: `Bearer ${session.access}` },
            },
            (res) => {
              res.resume();
              res.on('end', () =>
                resolve(res.statusCode === 401 ? performance.now() - started : Number.POSITIVE_INFINITY),
              );
            },
          );
          req.on('error', reject);
          req.end();
        }, reject);
      });
      instanceDelays.push(me);
      resourceDelays.push(await resourceDone);
    }
  } finally {
    await verifier.close();
    agent.destroy();
  }
  instanceDelays.sort((x, y) => x - y);
  resourceDelays.sort((x, y) => x - y);
  return {
    count,
    instance: { p50: percentile(instanceDelays, 50), p99: percentile(instanceDelays, 99) },
    resource: { p50: percentile(resourceDelays, 50), p99: percentile(resourceDelays, 99) },
  };
}
