// Why a refresh at half the maximum rate is not half the work: `tessera start` (SQLite, production
// settings) measured at its maximum refresh rate (closed loop), then paced at fractions of it, each run
// reporting the latency (from the intended send time), the server's CPU per refresh, and, per thread of
// the server, its time on a core and its time runnable but waiting for one (/proc/<pid>/task/*/schedstat,
// the scheduler's own nanosecond counts), beside the load generator's CPU per refresh. With --pin the
// server runs on core 1 and the load generator on core 0, so neither takes the other's core. With
// --host-probe a process of its own sleeps 1 ms at a time beside each paced run (and once alone,
// first) and reports how late it woke (bench/src/wakeup-lateness.ts): what the host does to any
// process at that load, not only to the server. Each paced run's p99 is split in two: how late the
// generator took each request up (due → its timer tick found it due) and the p99 timed from then
// (the wait for a free token or connection, the kernel, the server, the reply). With --server-timing a
// preloaded script in the server times each request from its parsed head to its finished reply: the
// server's own share, without the time a request waits in the kernel while the event loop is held.
// Usage:
//   npm exec -- node --conditions=@tessera/source bench/src/half-load-anatomy.ts [--fractions=0.05,0.25,0.5]
//     [--seconds=8] [--pin] [--host-probe] [--server-timing]
// Prints a markdown table.
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { parseArgs } from 'node:util';
import { startCluster } from './cluster.ts';
import { type HttpLoad, runHttpLoad } from './http-load.ts';
import { createSessions } from './refresh-scenario.ts';
import { type ServerPreload, writeServerPreload } from './server-preload.ts';
import type { WakeupLatenessResult } from './wakeup-lateness.ts';

/** Runs the 1-ms sleeper of wakeup-lateness.ts in a process of its own for `seconds`. */
function probeHost(seconds: number): Promise<WakeupLatenessResult> {
  const script = new URL('./wakeup-lateness.ts', import.meta.url).pathname;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [script, String(seconds)], (error, stdout) =>
      error ? reject(error) : resolve(JSON.parse(stdout) as WakeupLatenessResult),
    );
  });
}

/** The sleeper's columns: wake-ups later than 5 ms per second, and ms per second past 10 ms. */
const probeCells = (probe: WakeupLatenessResult | undefined): string =>
  probe ? ` ${probe.over5MsPerSecond.toFixed(1)} | ${probe.past10MsPerSecond.toFixed(1)} |` : '';

// The server's own time per request, preloaded with --server-timing: from the parsed request head
// ('request') to the reply handed to the kernel ('finish'). Each SIGUSR2 writes the percentiles since
// the last one to SERVER_TIMING_OUT and starts afresh.
const SERVER_TIMING_PRELOAD = `
import { Server } from 'node:http';
import { createHistogram } from 'node:perf_hooks';
import { renameSync, writeFileSync } from 'node:fs';
let histogram = createHistogram();
const emit = Server.prototype.emit;
Server.prototype.emit = function (event, ...args) {
  if (event === 'request') {
    const started = process.hrtime.bigint();
    const mine = histogram;
    args[1].once('finish', () => mine.record(process.hrtime.bigint() - started || 1n));
  }
  return emit.call(this, event, ...args);
};
process.on('SIGUSR2', () => {
  const done = histogram;
  histogram = createHistogram();
  const out = process.env.SERVER_TIMING_OUT;
  const ms = (ns) => ns / 1e6;
  writeFileSync(out + '.part', JSON.stringify({ p50: ms(done.percentile(50)), p99: ms(done.percentile(99)), max: ms(done.max) }));
  renameSync(out + '.part', out);
});
`;

/** The server's own time per request since the last call (see SERVER_TIMING_PRELOAD), in ms. */
function serverTiming(
  child: import('node:child_process').ChildProcess | undefined,
  preload: ServerPreload,
): Promise<{ p50: number; p99: number; max: number }> {
  child?.kill('SIGUSR2');
  return preload.take();
}

/** Scheduler counts of one thread: nanoseconds on a core and runnable-but-waiting. */
interface ThreadTimes {
  name: string;
  onCpuNs: number;
  waitingNs: number;
}

/** Every thread of `pid` by thread id, from /proc/<pid>/task/<tid>/{comm,schedstat}. */
function threadTimes(pid: number): Map<string, ThreadTimes> {
  const out = new Map<string, ThreadTimes>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const [onCpu, waiting] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
      out.set(tid, { name, onCpuNs: Number(onCpu), waitingNs: Number(waiting) });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** Milliseconds per second of `seconds` that threads named `name` spent on a core and waiting for one. */
function shareOf(
  before: Map<string, ThreadTimes>,
  after: Map<string, ThreadTimes>,
  name: string,
  seconds: number,
): { onCpu: number; waiting: number } {
  let onCpuNs = 0;
  let waitingNs = 0;
  for (const [tid, now] of after) {
    if (now.name !== name) continue;
    const then = before.get(tid);
    onCpuNs += now.onCpuNs - (then?.onCpuNs ?? 0);
    waitingNs += now.waitingNs - (then?.waitingNs ?? 0);
  }
  return { onCpu: onCpuNs / 1e6 / seconds, waiting: waitingNs / 1e6 / seconds };
}

const { values } = parseArgs({
  options: {
    fractions: { type: 'string' },
    seconds: { type: 'string' },
    pin: { type: 'boolean' },
    'host-probe': { type: 'boolean' },
    'server-timing': { type: 'boolean' },
  },
});
const fractions = (values.fractions ?? '0.05,0.25,0.5').split(',').map(Number);
const seconds = Number(values.seconds ?? 8);
const timing = values['server-timing']
  ? writeServerPreload(SERVER_TIMING_PRELOAD, 'SERVER_TIMING_OUT')
  : undefined;
const cluster = await startCluster({
  instances: 1,
  database: 'sqlite',
  ...(timing ? { extraEnv: timing.env } : {}),
});
const child = cluster.instances[0]?.child;
const pid = child?.pid ?? 0;
const rows: string[] = [];
const hostProbe = values['host-probe'] ?? false;
const columns = [
  'load',
  'refreshes/s',
  'p50 ms',
  'p99 ms',
  'the generator late, p99 ms',
  'p99 ms after the generator',
  ...(timing ? ["the server's own time, p99 ms"] : []),
  'server CPU µs per refresh',
  'event loop on a core, ms/s',
  'event loop waiting for a core, ms/s',
  'signing thread on a core, ms/s',
  'load generator CPU µs per refresh',
  ...(hostProbe ? ['a 1-ms sleeper beside it: wake-ups > 5 ms late per s', 'its ms/s past 10 ms'] : []),
];
let maximum = 0;
try {
  if (values.pin) {
    // -a: every thread, the signing thread and V8's helpers too; children inherit the affinity.
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(pid)], { stdio: 'ignore' });
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  }
  const load: Pick<HttpLoad, 'urls' | 'path' | 'method' | 'connections' | 'pids'> = {
    urls: cluster.urls,
    path: '/auth/refresh',
    method: 'POST',
    connections: 64,
    pids: [pid],
  };
  let tokens = await createSessions(cluster.urls, 64, new Agent({ keepAlive: true }));
  if (hostProbe) {
    const alone = await probeHost(seconds);
    rows.push(`| none (the sleeper alone) |${' |'.repeat(columns.length - 3)}${probeCells(alone)}`);
  }
  const full = await runHttpLoad({
    ...load,
    credential: { kind: 'rotating-json', tokens },
    seconds: 4,
    warmupSeconds: 1,
  });
  tokens = full.tokens;
  maximum = full.rps;
  rows.push(
    `| maximum (closed loop) | ${full.rps.toFixed(0)} | ${full.p50Ms.toFixed(1)} | ${full.p99Ms.toFixed(1)} |${' |'.repeat(2 + (timing ? 1 : 0))} ${full.cpuUsPerRequest?.toFixed(0)} | | | | |${hostProbe ? ' | |' : ''}`,
  );
  for (const fraction of fractions) {
    const rate = Math.round(full.rps * fraction);
    const threadsBefore = threadTimes(pid);
    const started = performance.now();
    // The sleeper starts with the warm-up and runs through the timed span.
    const probing = hostProbe ? probeHost(seconds + 1) : undefined;
    const paced = { ...load, credential: { kind: 'rotating-json' as const, tokens }, rate };
    const run = timing
      ? // The warm-up as a run of its own, so the server's timings cover the timed span alone.
        await runHttpLoad({ ...paced, seconds: 1 }).then(async (warm) => {
          await serverTiming(child, timing);
          return runHttpLoad({
            ...paced,
            credential: { kind: 'rotating-json', tokens: warm.tokens },
            seconds,
          });
        })
      : await runHttpLoad({ ...paced, seconds, warmupSeconds: 1 });
    const server = timing ? await serverTiming(child, timing) : undefined;
    const probe = await probing;
    const span = (performance.now() - started) / 1000;
    const threadsAfter = threadTimes(pid);
    tokens = run.tokens;
    const main = shareOf(threadsBefore, threadsAfter, 'MainThread', span);
    const signing = shareOf(threadsBefore, threadsAfter, 'WorkerThread', span);
    rows.push(
      `| ${fraction} of it | ${rate} | ${run.p50Ms.toFixed(1)} | ${run.p99Ms.toFixed(1)} | ${run.generatorLateP99Ms?.toFixed(1)} | ${run.p99AfterGeneratorMs?.toFixed(1)} |${server ? ` ${server.p99.toFixed(1)} |` : ''} ${run.cpuUsPerRequest?.toFixed(0)} | ${main.onCpu.toFixed(0)} | ${main.waiting.toFixed(0)} | ${signing.onCpu.toFixed(0)} | ${run.generatorCpuUsPerRequest?.toFixed(0)} |${probeCells(probe)}`,
    );
  }
} finally {
  await cluster.close();
  timing?.remove();
}
process.stdout.write(
  [
    `Tessera over SQLite, 64 sessions, 64 connections; paced runs of ${seconds} s after 1 s of warm-up${values.pin ? '; server on core 1, load generator on core 0' : '; server and load generator share the cores'}. Maximum ${maximum.toFixed(0)} refreshes/s.`,
    '',
    `| ${columns.join(' | ')} |`,
    `|---|${'---:|'.repeat(columns.length - 1)}`,
    ...rows,
    '',
  ].join('\n'),
);
