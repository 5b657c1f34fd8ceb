// The disk alone: how long a small durable write takes on the file system the benchmark's databases
// live on, so a latency stall in a run can be told apart from the server's own work.
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { percentile } from './load.ts';

/** fsync latency of 4 KiB appends, in milliseconds. */
export interface DiskSyncResult {
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Appends 4 KiB and fsyncs, `count` times or for at most `maxSeconds`, in a fresh file under `dir`
 * (default the OS temporary directory, where the benchmark's SQLite files are); times each
 * write + fsync. Nothing else should run meanwhile: this is the disk's own latency.
 */
export function measureDiskSync(
  options: { dir?: string; count?: number; maxSeconds?: number } = {},
): DiskSyncResult {
  const dir = mkdtempSync(join(options.dir ?? tmpdir(), 'tessera-fsync-'));
  const fd = openSync(join(dir, 'probe'), 'a');
  const block = Buffer.alloc(4096, 7);
  const samples: number[] = [];
  const deadline = performance.now() + (options.maxSeconds ?? 5) * 1000;
  try {
    for (let i = 0; i < (options.count ?? 500) && performance.now() < deadline; i += 1) {
      const started = performance.now();
      writeSync(fd, block);
      fsyncSync(fd);
      samples.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
  samples.sort((a, b) => a - b);
  return {
    count: samples.length,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    maxMs: samples.at(-1) ?? Number.NaN,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(`${JSON.stringify(measureDiskSync())}\n`);
}
