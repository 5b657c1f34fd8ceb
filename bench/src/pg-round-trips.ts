// Round trips per refresh on PostgreSQL: the engine over @tessera/postgres in this process, every
// query the pool's clients send counted (node-postgres sends one query per round trip; it does not
// pipeline). Counting does not depend on load, so this figure is exact on any machine.
import { randomBytes } from 'node:crypto';
import { createEngine, type Store } from '@tessera/core';
import { createPostgresStore } from '@tessera/postgres';
import pg from 'pg';
import { countQueries } from '../../packages/postgres/src/test-server.ts';

const SHARED_PG = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Queries (= round trips) per refresh, with the store as it ships and without its optional methods. */
export interface RoundTrips {
  /** As shipped: the one-step rotation, once the engine has seen the session (its salt). */
  perRefresh: number;
  /** Without `rotateSessionInOneStep`: the session read with its user, then the rotation. */
  perRefreshWithoutOneStep: number;
  /** Without either: session, user, rotation (what a refresh cost before). */
  perRefreshWithoutEither: number;
  /**
   * As shipped, 64 sessions refreshing at once, several rounds: queries / refreshes. The store sends
   * the rotations of one event-loop turn as one statement (up to 64 per batch), so this is 1/64 when
   * the 64 calls meet in one turn, and 1 would mean no batching at all.
   */
  perRefreshConcurrent64: number;
}

async function countPerRefresh(store: Store, secret: Uint8Array, refreshes: number): Promise<number> {
  const engine = await createEngine({
    store,
    secret,
    issuer: 'http://tessera.bench',
    rateLimits: false,
  });
  try {
    const user = await engine.createUser({ email: `rt-${randomBytes(6).toString('hex')}@example.com` });
    let token = (await engine.startSession({ userId: user.id, amr: ['ext'] })).refreshToken as string;
    // The first refresh loads the signing key and shows the engine the session (its salt, which the
    // one-step rotation needs); the counted ones are the steady state.
    token = (await engine.refresh({ refreshToken: token })).refreshToken as string;
    const { queries } = await countQueries(async () => {
      for (let i = 0; i < refreshes; i += 1)
        token = (await engine.refresh({ refreshToken: token })).refreshToken as string;
    });
    return queries / refreshes;
  } finally {
    await engine.close();
  }
}

/** Queries per refresh when `sessions` sessions refresh at once, `rounds` times over. */
async function countPerConcurrentRefresh(
  store: Store,
  secret: Uint8Array,
  sessions: number,
  rounds: number,
): Promise<number> {
  const engine = await createEngine({ store, secret, issuer: 'http://tessera.bench', rateLimits: false });
  try {
    let tokens = await Promise.all(
      Array.from({ length: sessions }, async () => {
        const user = await engine.createUser({ email: `rt-${randomBytes(6).toString('hex')}@example.com` });
        const token = (await engine.startSession({ userId: user.id, amr: ['ext'] })).refreshToken as string;
        return (await engine.refresh({ refreshToken: token })).refreshToken as string;
      }),
    );
    const { queries } = await countQueries(async () => {
      for (let i = 0; i < rounds; i += 1)
        tokens = await Promise.all(
          tokens.map(async (token) => (await engine.refresh({ refreshToken: token })).refreshToken as string),
        );
    });
    return queries / (sessions * rounds);
  } finally {
    await engine.close();
  }
}

/**
 * Counts round trips over `refreshes` sequential refreshes of one session on a fresh schema, and over
 * `refreshes / 10` rounds of 64 concurrent ones.
 */
export async function measurePostgresRoundTrips(refreshes = 100): Promise<RoundTrips> {
  const schema = `bench_rt_${randomBytes(6).toString('hex')}`;
  const store = await createPostgresStore({ connectionString: SHARED_PG, schema });
  try {
    const secret = randomBytes(32);
    const perRefresh = await countPerRefresh(store, secret, refreshes);
    const { rotateSessionInOneStep: _, ...twoSteps } = store;
    const perRefreshWithoutOneStep = await countPerRefresh(twoSteps as Store, secret, refreshes);
    const { findSessionWithUser: __, ...plain } = twoSteps;
    const perRefreshWithoutEither = await countPerRefresh(plain as Store, secret, refreshes);
    const perRefreshConcurrent64 = await countPerConcurrentRefresh(
      store,
      secret,
      64,
      Math.max(1, Math.round(refreshes / 10)),
    );
    return { perRefresh, perRefreshWithoutOneStep, perRefreshWithoutEither, perRefreshConcurrent64 };
  } finally {
    await store.close();
    const admin = new pg.Client({ connectionString: SHARED_PG });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(await measurePostgresRoundTrips())}\n`);
}
