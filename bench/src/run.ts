import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { startCeiling, startCluster } from './cluster.ts';
import { measureRefreshUnderLogins, residentMiB, seedSessions } from './extra-scenarios.ts';
import type { LoadResult } from './load.ts';
import { measureRefresh } from './refresh-scenario.ts';
import { measureRevocationDelay } from './revocation-delay.ts';
import { measureVerify } from './verify-scenario.ts';

/** One measured scenario in `latest.json`. */
interface ScenarioResult {
  name: string;
  system: string;
  rps?: number;
  ops?: number;
  p50_ms?: number;
  p99_ms?: number;
  runs: Array<Record<string, number>>;
}

const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, only: { type: 'string' } },
  allowPositionals: true,
});
const quick = values.quick ?? false;
const seconds = quick ? 3 : 10;
const repeats = quick ? 1 : 2;
const results: ScenarioResult[] = [];
const ratios: Record<string, number> = {};
let revocationDelay: Record<string, unknown> | null = null;
let clientSize: { minified: number; gzipped: number } | null = null;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function record(name: string, system: string, runs: LoadResult[]): void {
  results.push({
    name,
    system,
    rps: median(runs.map((r) => r.rps)),
    p50_ms: median(runs.map((r) => r.p50Ms)),
    p99_ms: median(runs.map((r) => r.p99Ms)),
    runs: runs.map((r) => ({
      rps: r.rps,
      p50_ms: r.p50Ms,
      p99_ms: r.p99Ms,
      requests: r.requests,
      errors: r.errors,
    })),
  });
  const last = results.at(-1) as ScenarioResult;
  process.stderr.write(
    `  ${name} (${system}): ${last.rps?.toFixed(0)} req/s, p50 ${last.p50_ms?.toFixed(2)} ms, p99 ${last.p99_ms?.toFixed(2)} ms\n`,
  );
}

const scenarios: Array<{ name: string; run: () => Promise<void> }> = [
  {
    name: 'refresh-sqlite',
    async run() {
      const cluster = await startCluster({ instances: 1, database: 'sqlite' });
      try {
        const runs: LoadResult[] = [];
        for (let i = 0; i < repeats; i += 1)
          runs.push(await measureRefresh(cluster.urls, { workers: 64, seconds, warmupSeconds: 1 }));
        record('refresh-sqlite', 'tessera', runs);
      } finally {
        await cluster.close();
      }
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
    name: 'refresh-ceiling',
    async run() {
      // Side by side with Tessera on SQLite, alternating, so noise hits both alike.
      const tesseraRuns: LoadResult[] = [];
      const ceilingRuns: LoadResult[] = [];
      for (let i = 0; i < repeats; i += 1) {
        const ceiling = await startCeiling();
        try {
          ceilingRuns.push(await measureRefresh([ceiling.url], { workers: 64, seconds, warmupSeconds: 1 }));
        } finally {
          await ceiling.close();
        }
        const cluster = await startCluster({ instances: 1, database: 'sqlite' });
        try {
          tesseraRuns.push(await measureRefresh(cluster.urls, { workers: 64, seconds, warmupSeconds: 1 }));
        } finally {
          await cluster.close();
        }
      }
      record('refresh-sqlite-vs-ceiling', 'ceiling (node:http + node:sqlite + Ed25519)', ceilingRuns);
      record('refresh-sqlite-vs-ceiling', 'tessera', tesseraRuns);
      const median = (runs: LoadResult[]) =>
        runs.map((r) => r.rps).sort((a, b) => a - b)[Math.floor(runs.length / 2)] ?? 0;
      ratios.refresh_vs_ceiling = median(tesseraRuns) / median(ceilingRuns);
    },
  },
  {
    name: 'refresh-sessions',
    async run() {
      // The same refresh load against 10,000 and 1,000,000 stored sessions (1,000,000 only in full runs).
      const sizes = quick ? [10_000, 100_000] : [10_000, 1_000_000];
      const byRps: number[] = [];
      for (const size of sizes) {
        const cluster = await startCluster({ instances: 1, database: 'sqlite' });
        try {
          seedSessions((cluster.env.TESSERA_DATABASE_URL ?? '').slice('sqlite:'.length), size);
          const runs: LoadResult[] = [];
          for (let i = 0; i < repeats; i += 1)
            runs.push(await measureRefresh(cluster.urls, { workers: 64, seconds, warmupSeconds: 1 }));
          record(`refresh-sqlite-${size}-sessions`, 'tessera', runs);
          byRps.push(results.at(-1)?.rps ?? 0);
          const rss = residentMiB(cluster.instances[0]?.child.pid);
          results.push({
            name: `server-memory-after-load-${size}-sessions`,
            system: 'tessera',
            ops: rss,
            runs: [{ rss_mib: rss }],
          });
          process.stderr.write(`  server resident memory after the load: ${rss.toFixed(0)} MiB\n`);
        } finally {
          await cluster.close();
        }
      }
      ratios[quick ? 'refresh_100k_vs_10k_sessions' : 'refresh_1m_vs_10k_sessions'] =
        (byRps[1] ?? 0) / (byRps[0] ?? 1);
    },
  },
  {
    name: 'login-flood',
    async run() {
      const cluster = await startCluster({ instances: 1, database: 'sqlite' });
      try {
        const { refresh, login } = await measureRefreshUnderLogins(cluster, {
          seconds,
          loginWorkers: 16,
          refreshWorkers: 16,
        });
        record('login-flood: refresh latency', 'tessera', [refresh]);
        record('login-flood: logins (argon2id m=19456 t=2 p=1)', 'tessera', [login]);
      } finally {
        await cluster.close();
      }
    },
  },
  {
    name: 'refresh-postgres',
    async run() {
      for (const instances of [1, 3]) {
        const cluster = await startCluster({ instances, database: 'postgres', redis: instances > 1 });
        try {
          const runs: LoadResult[] = [];
          for (let i = 0; i < repeats; i += 1)
            runs.push(await measureRefresh(cluster.urls, { workers: 64, seconds, warmupSeconds: 1 }));
          record(`refresh-postgres-${instances}x`, 'tessera', runs);
        } finally {
          await cluster.close();
        }
      }
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
  client_bundle_bytes: clientSize,
};
mkdirSync(new URL('../results/', import.meta.url), { recursive: true });
// A partial run (--only) must not replace the full run's figures.
const output = values.only ? '../results/partial.json' : '../results/latest.json';
writeFileSync(new URL(output, import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
const rows = results.map(
  (r) =>
    `| ${r.name} | ${r.system} | ${(r.rps ?? r.ops)?.toFixed(0) ?? '–'} | ${r.p50_ms?.toFixed(2) ?? '–'} | ${r.p99_ms?.toFixed(2) ?? '–'} |`,
);
process.stdout.write(
  ['| scenario | system | req/s or ops/s | p50 ms | p99 ms |', '|---|---|---|---|---|', ...rows, ''].join(
    '\n',
  ),
);
process.stdout.write(
  `\nratios: ${JSON.stringify(ratios)}\nrevocation delay (ms): ${JSON.stringify(revocationDelay)}\n`,
);
