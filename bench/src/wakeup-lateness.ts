// The machine alone: how late an idle process wakes from a 1-ms sleep on this host, measured beside
// the half-load p99 as the disk alone is. No server answers faster than the host lets it run: a
// request that arrives while the host holds every process waits for the hold to end, whatever the
// server does. Summing, over the holds, how far each runs past 10 ms gives the share of wall time in
// which an arriving request cannot be answered within 10 ms; at 1 % (10 ms per second) or more, a
// p99 under 10 ms is out of reach on this host for any server.
import { percentile } from './load.ts';

/** Wake-up lateness of a 1-ms timer in an otherwise idle process, in milliseconds. */
export interface WakeupLatenessResult {
  /** Wake-ups timed. */
  count: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Wake-ups later than 5 ms, per second. */
  over5MsPerSecond: number;
  /**
   * Milliseconds per second spent more than 10 ms into a hold (the sum of `late − 10` over wake-ups
   * later than 10 ms, per second of the run): the share of time a request could not be answered
   * within 10 ms however little work it took.
   */
  past10MsPerSecond: number;
}

/**
 * Sleeps 1 ms at a time for `seconds` (default 5) and times how late each wake-up is. Nothing else
 * should run meanwhile: this is the host's own scheduling, not a server's.
 */
export async function measureWakeupLateness(
  options: { seconds?: number } = {},
): Promise<WakeupLatenessResult> {
  const samples: number[] = [];
  const started = performance.now();
  const end = started + (options.seconds ?? 5) * 1000;
  while (performance.now() < end) {
    const due = performance.now() + 1;
    await new Promise((resolve) => setTimeout(resolve, 1));
    samples.push(Math.max(0, performance.now() - due));
  }
  const seconds = (performance.now() - started) / 1000;
  const over5 = samples.filter((late) => late > 5).length;
  const past10 = samples.reduce((sum, late) => sum + Math.max(0, late - 10), 0);
  samples.sort((a, b) => a - b);
  return {
    count: samples.length,
    seconds,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    maxMs: samples.at(-1) ?? Number.NaN,
    over5MsPerSecond: over5 / seconds,
    past10MsPerSecond: past10 / seconds,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const seconds = Number(process.argv[2] ?? 5);
  process.stdout.write(`${JSON.stringify(await measureWakeupLateness({ seconds }))}\n`);
}
