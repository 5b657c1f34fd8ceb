import { mkdirSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { BENCH_ISSUER, startCluster } from './cluster.ts';
import { type DiskSyncResult, measureDiskSync } from './disk-sync.ts';
import { createDpopBenchKey } from './dpop-proof.ts';
import { residentMiB, seedSessions } from './extra-scenarios.ts';
import { type HttpLoad, type LoadResult, runHttpLoad } from './http-load.ts';
import { measurePostgresRoundTrips, type RoundTrips } from './pg-round-trips.ts';
import { createSessions } from './refresh-scenario.ts';
import { measureRevocationDelay } from './revocation-delay.ts';
import {
  betterAuth,
  ceiling,
  oidcProvider,
  oidcProviderFresh,
  packageVersion,
  type System,
  type Target,
  tessera,
} from './systems.ts';
import { measureVerifyDpop } from './verify-dpop-scenario.ts';
import { measureVerify } from './verify-scenario.ts';
import { measureWakeupLateness, type WakeupLatenessResult } from './wakeup-lateness.ts';

/** One measured scenario in `latest.json`. */
interface ScenarioResult {
  name: string;
  system: string;
  rps?: number;
  ops?: number;
  p50_ms?: number;
  p99_ms?: number;
  /** Peak resident memory of the servers during the timed runs (median of runs), MiB. */
  rss_mib?: number;
  /**
   * Server CPU time (user + system, every thread, every instance, from /proc/<pid>/stat) over a timed
   * run divided by the refreshes (2xx responses) of that run, in µs (median of runs).
   */
  cpu_us_per_refresh?: number;
  /** The same for the database server's processes (PostgreSQL scenarios), µs per refresh. */
  db_cpu_us_per_refresh?: number;
  /**
   * Paced runs: the p99 of how late the generator took each request up (due → its timer tick found
   * it due), and the p99 timed from then instead of from when each was due (medians of runs), ms.
   */
  generator_late_p99_ms?: number;
  p99_after_generator_ms?: number;
  runs: Array<Record<string, number>>;
}

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    only: { type: 'string' },
    soak: { type: 'boolean' },
    'soak-minutes': { type: 'string' },
  },
  allowPositionals: true,
});
const quick = values.quick ?? false;
const seconds = quick ? 2 : 10;
const warmupSeconds = quick ? 0.5 : 2;
const repeats = quick ? 1 : 2;
/** Concurrent connections of every closed-loop refresh load. */
const CONNECTIONS = 64;
/** Live credentials per system: twice the connections, so a lost token never idles a connection. */
const CREDENTIALS = 2 * CONNECTIONS;
if (values.soak) {
  const { runSoak } = await import('./soak.ts');
  const minutes = Number(values['soak-minutes'] ?? 10);
  // A shortened soak must not replace the full one's figures.
  const output = minutes >= 10 ? '../results/soak.json' : '../results/soak-partial.json';
  await runSoak({
    minutes,
    connections: CONNECTIONS,
    credentials: CREDENTIALS,
    maxSeconds: seconds,
    output: new URL(output, import.meta.url),
  });
  process.exit(0);
}
const results: ScenarioResult[] = [];
const ratios: Record<string, number> = {};
let revocationDelay: Record<string, unknown> | null = null;
let postgresRoundTrips: RoundTrips | null = null;
const diskSync: DiskSyncResult[] = [];
/** The host alone: how late an idle process wakes, beside each round's half-load runs. */
const wakeups: WakeupLatenessResult[] = [];
/** The paced sender's own event-loop delay in each half-load run (ms): its share of the tail. */
const generatorLag: Array<{ p99: number; max: number }> = [];
let clientSize: { minified: number; gzipped: number } | null = null;
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The median of `pick` over runs, when every run has it. */
function medianOf(
  runs: readonly LoadResult[],
  pick: (r: LoadResult) => number | undefined,
): number | undefined {
  const values = runs.map(pick);
  return runs.length > 0 && values.every((v) => v !== undefined) ? median(values as number[]) : undefined;
}

function record(name: string, system: string, runs: Array<LoadResult & { rssMiB?: number }>): ScenarioResult {
  const cpu = medianOf(runs, (r) => r.cpuUsPerRequest);
  const dbCpu = medianOf(runs, (r) => r.dbCpuUsPerRequest);
  const generatorLate = medianOf(runs, (r) => r.generatorLateP99Ms);
  const afterGenerator = medianOf(runs, (r) => r.p99AfterGeneratorMs);
  const result: ScenarioResult = {
    name,
    system,
    rps: median(runs.map((r) => r.rps)),
    p50_ms: median(runs.map((r) => r.p50Ms)),
    p99_ms: median(runs.map((r) => r.p99Ms)),
    ...(runs.every((r) => r.rssMiB !== undefined) ? { rss_mib: median(runs.map((r) => r.rssMiB ?? 0)) } : {}),
    ...(cpu === undefined ? {} : { cpu_us_per_refresh: cpu }),
    ...(dbCpu === undefined ? {} : { db_cpu_us_per_refresh: dbCpu }),
    ...(generatorLate === undefined ? {} : { generator_late_p99_ms: generatorLate }),
    ...(afterGenerator === undefined ? {} : { p99_after_generator_ms: afterGenerator }),
    runs: runs.map((r) => ({
      rps: r.rps,
      p50_ms: r.p50Ms,
      p99_ms: r.p99Ms,
      requests: r.requests,
      errors: r.errors,
      ...(r.rssMiB === undefined ? {} : { rss_mib: r.rssMiB }),
      ...(r.cpuUsPerRequest === undefined ? {} : { cpu_us_per_refresh: r.cpuUsPerRequest }),
      ...(r.dbCpuUsPerRequest === undefined ? {} : { db_cpu_us_per_refresh: r.dbCpuUsPerRequest }),
      ...(r.generatorLateP99Ms === undefined ? {} : { generator_late_p99_ms: r.generatorLateP99Ms }),
      ...(r.p99AfterGeneratorMs === undefined ? {} : { p99_after_generator_ms: r.p99AfterGeneratorMs }),
    })),
  };
  results.push(result);
  process.stderr.write(
    `  ${name} (${system}): ${result.rps?.toFixed(0)} req/s, p50 ${result.p50_ms?.toFixed(2)} ms, p99 ${result.p99_ms?.toFixed(2)} ms${generatorLate === undefined ? '' : ` (the generator late p99 ${generatorLate.toFixed(1)} ms; p99 after it ${afterGenerator?.toFixed(1)} ms)`}${cpu === undefined ? '' : `, CPU ${cpu.toFixed(0)} µs/refresh`}${dbCpu === undefined ? '' : ` (+ database ${dbCpu.toFixed(0)} µs)`}\n`,
  );
  return result;
}

/** Runs a load against a started target, sampling its servers' resident memory (peak, MiB) meanwhile. */
async function timeLoad(
  target: Target,
  options: Partial<HttpLoad> = {},
): Promise<LoadResult & { tokens: string[]; rssMiB: number }> {
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(
      peak,
      target.pids.reduce((sum, pid) => sum + residentMiB(pid), 0),
    );
  }, 100);
  try {
    const result = await runHttpLoad({
      ...target.load,
      pids: target.pids,
      ...(target.dbProcess ? { dbProcessName: target.dbProcess } : {}),
      connections: CONNECTIONS,
      seconds,
      warmupSeconds,
      ...options,
    });
    if (result.errors > 0)
      process.stderr.write(
        `  warning: ${result.errors} failed requests (${target.system}): ${result.firstError}\n`,
      );
    return { ...result, rssMiB: peak };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * Visits each system in turn, `repeats` rounds, the order reversed every other round so drift on
 * this shared machine hits every system alike.
 */
async function inRounds(systems: System[], visit: (system: System) => Promise<void>): Promise<void> {
  for (let round = 0; round < repeats; round += 1) {
    for (const system of round % 2 ? [...systems].reverse() : systems) await visit(system);
  }
}

/** Times each system's load {@link inRounds}; `after` may run more loads on a started target. */
async function sideBySide(
  systems: System[],
  after?: (target: Target, result: LoadResult & { tokens: string[] }) => Promise<void>,
): Promise<Map<System, Array<LoadResult & { rssMiB: number }>>> {
  const runs = new Map(systems.map((system) => [system, [] as Array<LoadResult & { rssMiB: number }>]));
  await inRounds(systems, async (system) => {
    // A failed rotation loses its token and its connection then fails fast: such a run is redone
    // once on a fresh server, and its errors stay in the report if it fails again.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const target = await system.start(CREDENTIALS);
      try {
        const result = await timeLoad(target);
        if (result.errors > 0 && attempt === 0) continue;
        runs.get(system)?.push(result);
        await after?.(target, result);
        break;
      } finally {
        await target.close();
      }
    }
  });
  return runs;
}

/** `system` with every refresh carrying a fresh DPoP proof for the server's public refresh URL. */
function withDpop(system: System): System {
  return {
    system: `${system.system} (DPoP)`,
    async start(credentials) {
      const target = await system.start(credentials);
      const { credential } = target.load;
      if (credential.kind !== 'rotating-json') throw new Error('DPoP load needs rotating JSON refresh');
      return {
        ...target,
        system: `${target.system} (DPoP)`,
        load: {
          ...target.load,
          // The proof names the public URL (the issuer's origin), not the loopback port it is sent to.
          credential: {
            ...credential,
            kind: 'rotating-json-dpop',
            key: createDpopBenchKey(),
            htu: `${BENCH_ISSUER}/auth/refresh`,
          },
        },
      };
    },
  };
}

const scenarios: Array<{ name: string; run: () => Promise<void> }> = [
  {
    name: 'refresh',
    async run() {
      // Tessera's refresh on SQLite beside each peer's counterpart and the hand-written ceiling;
      // oidc-provider in two shapes: refresh chains on its default adapter, and its best case (a
      // fresh grant per request on an unbounded in-memory adapter).
      const tesseraSqlite = tessera();
      // The same with signatures on the event loop: the signing thread's handoff costs CPU per
      // refresh (see the profile in docs/benchmarks.md); this A/B shows what it buys in throughput.
      const tesseraInline = tessera(
        { instances: 1, database: 'sqlite', extraEnv: { TESSERA_SIGNING_THREAD: 'off' } },
        'tessera (TESSERA_SIGNING_THREAD=off)',
      );
      const baRead = betterAuth(false);
      const baExtend = betterAuth(true);
      const systems = [
        tesseraSqlite,
        tesseraInline,
        oidcProvider,
        oidcProviderFresh,
        baRead,
        baExtend,
        ceiling,
      ];
      const halfLoad: LoadResult[] = [];
      const runs = await sideBySide(systems, async (target, result) => {
        if (target.system !== 'tessera') return;
        // Latency at a steady half of the throughput just measured, on the same server and sessions,
        // twice per round: one slow fsync of this shared disk (tens of ms) moves a run's p99 alone.
        let tokens = result.tokens;
        for (let i = 0; i < 2; i += 1) {
          const half = await runHttpLoad({
            ...target.load,
            pids: target.pids,
            credential: { kind: 'rotating-json', tokens },
            connections: CONNECTIONS,
            seconds,
            warmupSeconds,
            rate: Math.round(result.rps / 2),
          });
          tokens = half.tokens;
          halfLoad.push(half);
          if (half.generatorLagMs) generatorLag.push(half.generatorLagMs);
        }
        // The disk alone, right after, with the server idle: fsync latency of 4 KiB appends beside
        // the half-load p99, so a stall can be put on the disk or on the server.
        const disk = measureDiskSync({ maxSeconds: quick ? 1 : 3 });
        diskSync.push(disk);
        process.stderr.write(
          `  disk alone: write+fsync of 4 KiB p50 ${disk.p50Ms.toFixed(2)} ms, p99 ${disk.p99Ms.toFixed(2)} ms, max ${disk.maxMs.toFixed(2)} ms (${disk.count})\n`,
        );
        // The host alone, the same way: when it holds an idle process past 10 ms for 1 % of the time,
        // no server on it answers 99 % of requests within 10 ms.
        const wakeup = await measureWakeupLateness({ seconds: quick ? 1 : 5 });
        wakeups.push(wakeup);
        process.stderr.write(
          `  host alone: a 1-ms sleep wakes late by p99 ${wakeup.p99Ms.toFixed(2)} ms, max ${wakeup.maxMs.toFixed(1)} ms; ${wakeup.over5MsPerSecond.toFixed(1)} wake-ups/s over 5 ms; ${wakeup.past10MsPerSecond.toFixed(1)} ms/s past 10 ms\n`,
        );
      });
      const rps = new Map<System, number>();
      const cpu = new Map<System, number | undefined>();
      for (const system of systems) {
        const systemRuns = runs.get(system) ?? [];
        const result = record('refresh-sqlite', system.system, systemRuns);
        rps.set(system, result.rps ?? 0);
        cpu.set(system, result.cpu_us_per_refresh);
      }
      record('refresh-sqlite-at-half-max', 'tessera', halfLoad);
      const ours = rps.get(tesseraSqlite) ?? 0;
      ratios.refresh_vs_oidc_provider = ours / (rps.get(oidcProvider) ?? 1);
      ratios.refresh_vs_oidc_provider_fresh_grants = ours / (rps.get(oidcProviderFresh) ?? 1);
      ratios.refresh_vs_better_auth = ours / (rps.get(baRead) ?? 1);
      ratios.refresh_vs_better_auth_extending = ours / (rps.get(baExtend) ?? 1);
      ratios.refresh_vs_ceiling = ours / (rps.get(ceiling) ?? 1);
      ratios.refresh_signing_thread_off_vs_auto = (rps.get(tesseraInline) ?? 0) / (ours || 1);
      const inlineCpu = cpu.get(tesseraInline);
      // CPU per refresh, theirs over ours: above 1 means a Tessera refresh costs less CPU.
      const ourCpu = cpu.get(tesseraSqlite);
      for (const [key, system] of [
        ['cpu_oidc_provider_vs_tessera', oidcProvider],
        ['cpu_oidc_provider_fresh_grants_vs_tessera', oidcProviderFresh],
        ['cpu_better_auth_vs_tessera', baRead],
        ['cpu_ceiling_vs_tessera', ceiling],
      ] as const) {
        const theirs = cpu.get(system);
        if (ourCpu && theirs) ratios[key] = theirs / ourCpu;
      }
      if (ourCpu && inlineCpu) ratios.cpu_signing_thread_off_vs_auto = inlineCpu / ourCpu;
    },
  },
  {
    name: 'refresh-dpop',
    async run() {
      // Bearer refresh beside DPoP-bound refresh on the same kind of server: each DPoP request carries
      // a fresh ES256 proof (signed by the load generator with one pre-made key), which the server
      // verifies, checks and records in its replay cache; the first refresh binds each session.
      const bearer = tessera();
      const bound = withDpop(tessera());
      const runs = await sideBySide([bearer, bound]);
      const ours = record('refresh-sqlite (bearer)', bearer.system, runs.get(bearer) ?? []);
      const dpop = record('refresh-sqlite (DPoP proof per request)', bound.system, runs.get(bound) ?? []);
      ratios.refresh_dpop_vs_bearer = (dpop.rps ?? 0) / (ours.rps ?? 1);
    },
  },
  {
    name: 'client-size',
    async run() {
      const { measureClientSize } = await import('../../packages/client/scripts/size.ts');
      const size = await measureClientSize();
      clientSize = size;
      process.stderr.write(
        `  @tessera/client browser build: ${size.minified} bytes minified, ${size.gzipped} bytes gzipped\n`,
      );
    },
  },
  {
    name: 'login',
    async run() {
      // A login flood (argon2id at OWASP parameters on both sides) while a steady 200 requests/s of
      // refreshes (Tessera) or session reads (Better Auth) measure what the flood does to latency.
      const systems = [tessera(), betterAuth(false)];
      const logins = new Map<System, LoadResult[]>(systems.map((s) => [s, []]));
      const during = new Map<System, LoadResult[]>(systems.map((s) => [s, []]));
      await inRounds(systems, async (system) => {
        const target = await system.start(16);
        try {
          const [steady, flood] = await Promise.all([
            runHttpLoad({ ...target.load, connections: 16, seconds, warmupSeconds, rate: 200 }),
            runHttpLoad({
              urls: target.load.urls,
              ...(target.login as NonNullable<Target['login']>),
              connections: 16,
              seconds,
              warmupSeconds,
            }),
          ]);
          during.get(system)?.push(steady);
          logins.get(system)?.push(flood);
        } finally {
          await target.close();
        }
      });
      const [ours, theirs] = systems as [System, System];
      record('login-flood: refresh latency at 200/s', ours.system, during.get(ours) ?? []);
      record('login-flood: session read latency at 200/s', theirs.system, during.get(theirs) ?? []);
      const oursLogin = record('login (argon2id m=19456 t=2 p=1)', ours.system, logins.get(ours) ?? []);
      const theirsLogin = record('login (argon2id m=19456 t=2 p=1)', theirs.system, logins.get(theirs) ?? []);
      ratios.login_vs_better_auth = (oursLogin.rps ?? 0) / (theirsLogin.rps ?? 1);
    },
  },
  {
    name: 'refresh-sessions',
    async run() {
      // The same refresh load against 10,000 and 1,000,000 stored sessions (100,000 in quick runs).
      const sizes = quick ? [10_000, 100_000] : [10_000, 1_000_000];
      const byRps: number[] = [];
      for (const size of sizes) {
        const cluster = await startCluster({ instances: 1, database: 'sqlite' });
        try {
          seedSessions((cluster.env.TESSERA_DATABASE_URL ?? '').slice('sqlite:'.length), size);
          let tokens = await createSessions(cluster.urls, CREDENTIALS, new Agent({ keepAlive: true }));
          const runs: LoadResult[] = [];
          for (let i = 0; i < repeats; i += 1) {
            const result = await runHttpLoad({
              urls: cluster.urls,
              pids: cluster.instances.map((i) => i.child.pid ?? 0),
              path: '/auth/refresh',
              method: 'POST',
              credential: { kind: 'rotating-json', tokens },
              connections: CONNECTIONS,
              seconds,
              warmupSeconds,
            });
            tokens = result.tokens;
            runs.push(result);
          }
          byRps.push(record(`refresh-sqlite-${size}-sessions`, 'tessera', runs).rps ?? 0);
        } finally {
          await cluster.close();
        }
      }
      ratios[quick ? 'refresh_100k_vs_10k_sessions' : 'refresh_1m_vs_10k_sessions'] =
        (byRps[1] ?? 0) / (byRps[0] ?? 1);
    },
  },
  {
    name: 'refresh-postgres',
    async run() {
      // One instance over PostgreSQL beside one over SQLite in the same rounds (the target: PostgreSQL
      // at least half of SQLite), and three instances over one PostgreSQL with Redis (not slower than
      // one); every Tessera process's CPU counts, and PostgreSQL's own processes are given apart.
      const sqlite = tessera();
      const one = tessera({ instances: 1, database: 'postgres' });
      const three = tessera({ instances: 3, database: 'postgres', redis: true });
      // Three instances on two cores run three event loops and three signing threads beside PostgreSQL,
      // Redis and the load: the same with signatures on each event loop shows what the extra threads cost.
      const threeInline = tessera(
        { instances: 3, database: 'postgres', redis: true, extraEnv: { TESSERA_SIGNING_THREAD: 'off' } },
        'tessera (TESSERA_SIGNING_THREAD=off)',
      );
      const runs = await sideBySide([sqlite, one, three, threeInline]);
      const sqliteRps = record('refresh-sqlite (same rounds)', 'tessera', runs.get(sqlite) ?? []).rps ?? 0;
      const oneRps = record('refresh-postgres-1x', 'tessera', runs.get(one) ?? []).rps ?? 0;
      const threeRps = record('refresh-postgres-3x', 'tessera', runs.get(three) ?? []).rps ?? 0;
      const threeInlineRps =
        record('refresh-postgres-3x', threeInline.system, runs.get(threeInline) ?? []).rps ?? 0;
      ratios.postgres_1x_vs_sqlite = oneRps / (sqliteRps || 1);
      ratios.postgres_3x_vs_1x = threeRps / (oneRps || 1);
      ratios.postgres_3x_signing_inline_vs_1x = threeInlineRps / (oneRps || 1);
      // Round trips per refresh: counted, not timed (the engine over the PostgreSQL store in this
      // process, every query its pool sends), so exact on any machine.
      postgresRoundTrips = await measurePostgresRoundTrips(quick ? 20 : 100);
      process.stderr.write(
        `  PostgreSQL round trips per refresh: ${postgresRoundTrips.perRefresh} (without the one-step rotation ${postgresRoundTrips.perRefreshWithoutOneStep}, without it and the joined read ${postgresRoundTrips.perRefreshWithoutEither}; 64 concurrent refreshes ${postgresRoundTrips.perRefreshConcurrent64})\n`,
      );
    },
  },
  {
    name: 'verify',
    async run() {
      const result = await measureVerify({ seconds: quick ? 2 : 6, revocationCount: 100_000, tokens: 2000 });
      for (const [system, ops] of [
        ['jose.jwtVerify', result.joseOps],
        ['tessera-verify-cold', result.coldOps],
        ['tessera-verify-warm', result.warmOps],
      ] as const) {
        results.push({ name: 'verify-100k-revocations', system, ops, runs: [{ ops }] });
        process.stderr.write(`  verify (${system}): ${ops.toFixed(0)} tokens/s\n`);
      }
      ratios.verify_cold_vs_jose = result.coldOps / result.joseOps;
      ratios.verify_warm_vs_jose = result.warmOps / result.joseOps;
    },
  },
  {
    name: 'verify-dpop',
    async run() {
      const result = await measureVerifyDpop({
        seconds: quick ? 2 : 6,
        tokens: 2000,
        proofs: quick ? 40_000 : 150_000,
      });
      for (const [system, ops] of [
        ['tessera-verify-bearer-warm', result.bearerWarmOps],
        ['tessera-verify-dpop-warm', result.dpopWarmOps],
        ['tessera-verify-bearer-cold', result.bearerColdOps],
        ['tessera-verify-dpop-cold', result.dpopColdOps],
      ] as const) {
        results.push({ name: 'verify-dpop', system, ops, runs: [{ ops }] });
        process.stderr.write(`  verify-dpop (${system}): ${ops.toFixed(0)} requests/s\n`);
      }
      // A proof costs one signature check: with the token cached, DPoP pays about what an uncached
      // Bearer token does; both ratios are published.
      ratios.verify_dpop_vs_bearer_warm = result.dpopWarmOps / result.bearerWarmOps;
      ratios.verify_dpop_warm_vs_bearer_cold = result.dpopWarmOps / result.bearerColdOps;
      ratios.verify_dpop_vs_bearer_cold = result.dpopColdOps / result.bearerColdOps;
    },
  },
  {
    name: 'revocation-delay',
    async run() {
      const cluster = await startCluster({ instances: 3, database: 'postgres', redis: true });
      try {
        const result = await measureRevocationDelay(cluster, quick ? 100 : 1000);
        revocationDelay = {
          p50: result.resource.p50,
          p99: result.resource.p99,
          count: result.count,
          instance_b: result.instance,
          resource_service: result.resource,
        };
        process.stderr.write(
          `  revocation delay over ${result.count}: instance B p50 ${result.instance.p50.toFixed(2)} ms p99 ${result.instance.p99.toFixed(2)} ms; resource service p50 ${result.resource.p50.toFixed(2)} ms p99 ${result.resource.p99.toFixed(2)} ms\n`,
        );
      } finally {
        await cluster.close();
      }
    },
  },
];

process.stderr.write(
  `Tessera benchmarks (${quick ? 'quick' : 'full'}): ${seconds} s per run, ${repeats} run(s) each\n`,
);
for (const scenario of scenarios) {
  if (values.only && !scenario.name.startsWith(values.only)) continue;
  process.stderr.write(`${scenario.name}…\n`);
  await scenario.run();
}

const report = {
  machine: {
    cpus: cpus().length,
    model: cpus()[0]?.model ?? 'unknown',
    memory_gib: Math.round(totalmem() / 2 ** 30),
  },
  node: process.version,
  quick,
  generated_at: new Date().toISOString(),
  scenarios: results,
  ratios,
  revocation_delay_ms: revocationDelay,
  postgres_round_trips_per_refresh: postgresRoundTrips,
  disk_fsync_4k_ms: diskSync.length
    ? {
        runs: diskSync,
        p50: median(diskSync.map((d) => d.p50Ms)),
        p99: median(diskSync.map((d) => d.p99Ms)),
      }
    : null,
  host_wakeup_lateness_ms: wakeups.length
    ? {
        runs: wakeups,
        p99: median(wakeups.map((w) => w.p99Ms)),
        over_5ms_per_second: median(wakeups.map((w) => w.over5MsPerSecond)),
        past_10ms_ms_per_second: median(wakeups.map((w) => w.past10MsPerSecond)),
      }
    : null,
  load_generator_lag_ms: generatorLag.length
    ? {
        runs: generatorLag,
        p99: median(generatorLag.map((g) => g.p99)),
        max: median(generatorLag.map((g) => g.max)),
      }
    : null,
  client_bundle_bytes: clientSize,
  versions: Object.fromEntries(
    ['autocannon', 'oidc-provider', 'better-auth', 'jose'].map((name) => [name, packageVersion(name)]),
  ),
};
mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
// A partial run (--only) must not replace the full run's figures.
const output = values.only ? '../results/partial.json' : '../results/latest.json';
writeFileSync(new URL(output, import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
const rows = results.map(
  (r) =>
    `| ${r.name} | ${r.system} | ${(r.rps ?? r.ops)?.toFixed(0) ?? '–'} | ${r.p50_ms?.toFixed(2) ?? '–'} | ${r.p99_ms?.toFixed(2) ?? '–'} | ${r.rss_mib?.toFixed(0) ?? '–'} | ${r.cpu_us_per_refresh?.toFixed(0) ?? '–'}${r.db_cpu_us_per_refresh === undefined ? '' : ` + ${r.db_cpu_us_per_refresh.toFixed(0)} (database)`} |`,
);
process.stdout.write(
  [
    '| scenario | system | req/s or ops/s | p50 ms | p99 ms | server MiB under load | server CPU µs per request |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n'),
);
process.stdout.write(
  `\nratios: ${JSON.stringify(ratios)}\nrevocation delay (ms): ${JSON.stringify(revocationDelay)}\n` +
    `PostgreSQL round trips per refresh: ${JSON.stringify(postgresRoundTrips)}\n` +
    `disk alone, write+fsync 4 KiB (ms): ${JSON.stringify(report.disk_fsync_4k_ms)}\n` +
    `host alone, 1-ms sleep lateness: ${JSON.stringify(report.host_wakeup_lateness_ms && { ...report.host_wakeup_lateness_ms, runs: undefined })}\n` +
    `load generator's own event-loop delay at half load (ms): ${JSON.stringify(report.load_generator_lag_ms)}\n`,
);
