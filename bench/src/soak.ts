// The soak: one standalone Tessera on SQLite, refreshed at half its measured maximum rate for many
// minutes, with what would show a leak or an unbounded file sampled every minute and fitted to a line.
import { statSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, totalmem } from 'node:os';
import { startCluster } from './cluster.ts';
import { residentMiB } from './extra-scenarios.ts';
import { runHttpLoad } from './http-load.ts';
import { createSessions } from './refresh-scenario.ts';
import { checkRotation } from './systems.ts';

/** Options of {@link runSoak}. */
export interface SoakOptions {
  /** Soak length in minutes. */
  minutes: number;
  /** Keep-alive connections of the loads (the maximum-rate run and the paced sender). */
  connections: number;
  /** Live refresh tokens: more than the connections, so a failed rotation never idles one. */
  credentials: number;
  /** Length of the maximum-rate measurement, seconds (plus a 2 s warm-up). */
  maxSeconds: number;
  /** Where the JSON report goes. */
  output: URL;
}

/** What one minute of the soak measured. */
export interface SoakMinute {
  minute: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
  errors: number;
  /** Server resident memory, median of 1 Hz samples over the minute, MiB. */
  rss_mib: number;
  /** Its peak over the minute, MiB. */
  rss_max_mib: number;
  /** SQLite database file and write-ahead log at the end of the minute, MiB. */
  db_mib: number;
  wal_mib: number;
}

/** The figures whose slopes the report gives. */
const TRENDED = ['rps', 'p50_ms', 'p99_ms', 'errors', 'rss_mib', 'rss_max_mib', 'db_mib', 'wal_mib'] as const;

/**
 * Least-squares slope of `values` against their index (per minute, when there is one value a
 * minute); 0 for fewer than two values.
 */
export function slope(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return 0;
  const meanX = (n - 1) / 2;
  const meanY = values.reduce((sum, v) => sum + v, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of values.entries()) {
    num += (x - meanX) * (y - meanY);
    den += (x - meanX) ** 2;
  }
  return num / den;
}

function fileMiB(path: string): number {
  try {
    return statSync(path).size / 2 ** 20;
  } catch {
    return 0;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/**
 * Runs the soak and writes its report: measures the maximum refresh rate (closed loop, like the
 * refresh scenario), then sends half of it with the paced sender (no coordinated omission), one
 * minute at a time on the same server and sessions, sampling the server's resident memory every
 * second and the SQLite file and WAL sizes after each minute. Prints the table and the slopes.
 * Throws when `minutes` is not a whole number of at least 1, or when failed rotations leave fewer live
 * tokens than connections (the rate could no longer be held).
 */
export async function runSoak(options: SoakOptions): Promise<void> {
  if (!Number.isInteger(options.minutes) || options.minutes < 1)
    throw new Error('--soak-minutes must be a whole number of minutes, at least 1');
  const cluster = await startCluster({ instances: 1, database: 'sqlite' });
  try {
    const url = cluster.urls[0] as string;
    const pid = cluster.instances[0]?.child.pid;
    const dbPath = (cluster.env.TESSERA_DATABASE_URL ?? '').slice('sqlite:'.length);
    await checkRotation(url, {
      uri: new URL('/.well-known/jwks.json', url).href,
      issuer: cluster.env.TESSERA_ISSUER as string,
    });
    const agent = new Agent({ keepAlive: true });
    let tokens = await createSessions(cluster.urls, options.credentials, agent);
    agent.destroy();
    const load = {
      urls: cluster.urls,
      path: '/auth/refresh',
      method: 'POST' as const,
      connections: options.connections,
    };

    process.stderr.write(`soak: measuring the maximum refresh rate for ${options.maxSeconds} s…\n`);
    const max = await runHttpLoad({
      ...load,
      credential: { kind: 'rotating-json', tokens },
      seconds: options.maxSeconds,
      warmupSeconds: 2,
    });
    tokens = max.tokens;
    const rate = Math.round(max.rps / 2);
    process.stderr.write(
      `soak: maximum ${max.rps.toFixed(0)} req/s; ${options.minutes} min at ${rate} req/s follow\n`,
    );

    const minutes: SoakMinute[] = [];
    for (let minute = 1; minute <= options.minutes; minute += 1) {
      const rss: number[] = [];
      const sampler = setInterval(() => rss.push(residentMiB(pid)), 1000);
      let result: Awaited<ReturnType<typeof runHttpLoad>>;
      try {
        result = await runHttpLoad({
          ...load,
          credential: { kind: 'rotating-json', tokens },
          seconds: 60,
          rate,
        });
      } finally {
        clearInterval(sampler);
      }
      tokens = result.tokens;
      const row: SoakMinute = {
        minute,
        rps: result.rps,
        p50_ms: result.p50Ms,
        p99_ms: result.p99Ms,
        errors: result.errors,
        rss_mib: median(rss),
        rss_max_mib: Math.max(...rss),
        db_mib: fileMiB(dbPath),
        wal_mib: fileMiB(`${dbPath}-wal`),
      };
      minutes.push(row);
      process.stderr.write(
        `  minute ${minute}: ${row.rps.toFixed(0)} req/s, p50 ${row.p50_ms.toFixed(2)} ms, p99 ${row.p99_ms.toFixed(2)} ms, ${row.errors} errors, RSS ${row.rss_mib.toFixed(1)} MiB, db ${row.db_mib.toFixed(2)} MiB, WAL ${row.wal_mib.toFixed(2)} MiB${result.firstError ? ` (first error: ${result.firstError})` : ''}\n`,
      );
      if (tokens.length < options.connections)
        throw new Error(`only ${tokens.length} live refresh tokens left: the soak cannot keep its rate`);
    }

    const slopes = Object.fromEntries(TRENDED.map((key) => [key, slope(minutes.map((m) => m[key]))]));
    writeFileSync(
      options.output,
      `${JSON.stringify(
        {
          machine: {
            cpus: cpus().length,
            model: cpus()[0]?.model ?? 'unknown',
            memory_gib: Math.round(totalmem() / 2 ** 30),
          },
          node: process.version,
          generated_at: new Date().toISOString(),
          max_rps: max.rps,
          rate_rps: rate,
          connections: options.connections,
          minutes,
          slope_per_minute: slopes,
        },
        null,
        2,
      )}\n`,
    );
    // Minutes in each figure's own precision; slopes with three decimals, since a flat one is small.
    const DIGITS = {
      rps: 0,
      p50_ms: 2,
      p99_ms: 2,
      errors: 0,
      rss_mib: 1,
      rss_max_mib: 1,
      db_mib: 3,
      wal_mib: 3,
    };
    const row = (label: string, m: Record<(typeof TRENDED)[number], number>, slopes = false) =>
      `| ${label} | ${TRENDED.map((key) => m[key].toFixed(slopes ? 3 : DIGITS[key])).join(' | ')} |`;
    process.stdout.write(
      [
        `Soak: ${options.minutes} min of refreshes at ${rate} req/s (half of the ${max.rps.toFixed(0)} req/s maximum), one Tessera on SQLite`,
        '',
        '| minute | req/s | p50 ms | p99 ms | errors | RSS MiB (median) | RSS MiB (peak) | db MiB | WAL MiB |',
        '|---|---|---|---|---|---|---|---|---|',
        ...minutes.map((m) => row(String(m.minute), m)),
        row('slope per minute', slopes as Record<(typeof TRENDED)[number], number>, true),
        '',
      ].join('\n'),
    );
  } finally {
    await cluster.close();
  }
}
