// What a refresh allocates on the server's event loop, and what the young-generation collections that
// follow cost: `tessera start` (SQLite, production settings) with a preloaded script that runs V8's
// sampling heap profiler (objects the collector already freed included, so it counts allocation, not
// what is left) and a PerformanceObserver for `gc` entries, each in a paced window of its own.
// The samples are summed by allocating frame and divided by the refreshes answered. Usage:
//   npm exec -- node --conditions=@tessera/source bench/src/allocation-profile.ts [--rate=4200]
//     [--seconds=5] [--top=25]
// Prints a markdown table. The signing thread is not profiled: its collections do not stop the loop.
import { Agent } from 'node:http';
import { parseArgs } from 'node:util';
import { startCluster } from './cluster.ts';
import { runHttpLoad } from './http-load.ts';
import { percentile } from './load.ts';
import { createSessions } from './refresh-scenario.ts';
import { writeServerPreload } from './server-preload.ts';

/** A V8 sampling heap profile, the parts used here. */
interface SamplingHeapProfile {
  head: HeapNode;
  samples: Array<{ size: number; nodeId: number }>;
}
interface HeapNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children: HeapNode[];
}

// The preload. Each SIGUSR2 moves to the next window: the first counts collections alone (the
// profiler would slow them), the second samples allocations, the third writes `result.json` (renamed
// into place, so the parent never reads half of it).
const PRELOAD = `
import { Session } from 'node:inspector';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { renameSync, writeFileSync } from 'node:fs';
const session = new Session();
session.connect();
session.post('HeapProfiler.enable');
const minorMs = [];
let otherMs = 0;
let step = 0;
new PerformanceObserver((list) => {
  if (step !== 1) return;
  for (const entry of list.getEntries()) {
    if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) minorMs.push(entry.duration);
    else otherMs += entry.duration;
  }
}).observe({ entryTypes: ['gc'] });
process.on('SIGUSR2', () => {
  step += 1;
  if (step === 2) {
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 512,
      includeObjectsCollectedByMinorGC: true,
      includeObjectsCollectedByMajorGC: true,
    });
  } else if (step === 3) {
    session.post('HeapProfiler.stopSampling', (error, result) => {
      const out = process.env.ALLOCATION_PROFILE_OUT;
      writeFileSync(out + '.part', JSON.stringify({ profile: result.profile, minorMs, otherMs }));
      renameSync(out + '.part', out);
    });
  }
});
`;

const { values } = parseArgs({
  options: { rate: { type: 'string' }, seconds: { type: 'string' }, top: { type: 'string' } },
});
const rate = Number(values.rate ?? 4200);
const seconds = Number(values.seconds ?? 5);
const preload = writeServerPreload(PRELOAD, 'ALLOCATION_PROFILE_OUT');
const cluster = await startCluster({ instances: 1, database: 'sqlite', extraEnv: preload.env });
const child = cluster.instances[0]?.child;
try {
  const load = {
    urls: cluster.urls,
    path: '/auth/refresh',
    method: 'POST' as const,
    connections: 64,
    rate,
  };
  const tokens = await createSessions(cluster.urls, 128, new Agent({ keepAlive: true }));
  const warm = await runHttpLoad({ ...load, credential: { kind: 'rotating-json', tokens }, seconds: 2 });
  child?.kill('SIGUSR2');
  const collected = await runHttpLoad({
    ...load,
    credential: { kind: 'rotating-json', tokens: warm.tokens },
    seconds,
  });
  child?.kill('SIGUSR2');
  const run = await runHttpLoad({
    ...load,
    credential: { kind: 'rotating-json', tokens: collected.tokens },
    seconds,
  });
  child?.kill('SIGUSR2');
  const { profile, minorMs, otherMs } = await preload.take<{
    profile: SamplingHeapProfile;
    minorMs: number[];
    otherMs: number;
  }>();
  const refreshes = run.answered ?? run.requests;
  const frames = new Map<number, string>();
  const visit = (node: HeapNode): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url.replace(/^.*\/(node_modules|packages)\//, '$1/');
    frames.set(node.id, `${functionName || '(anonymous)'} ${where}${where ? `:${lineNumber + 1}` : ''}`);
    for (const child of node.children) visit(child);
  };
  visit(profile.head);
  const bytes = new Map<string, number>();
  let total = 0;
  for (const { size, nodeId } of profile.samples) {
    const frame = frames.get(nodeId) ?? '(unknown)';
    bytes.set(frame, (bytes.get(frame) ?? 0) + size);
    total += size;
  }
  const sorted = [...minorMs].sort((a, b) => a - b);
  const sum = minorMs.reduce((a, b) => a + b, 0);
  process.stdout.write(
    [
      `Tessera over SQLite, ${rate} refreshes/s paced, two windows of ${seconds} s. Without the profiler: p99 ${collected.p99Ms.toFixed(1)} ms; young-generation collections: ${minorMs.length} (one every ${((seconds * 1000) / Math.max(1, minorMs.length)).toFixed(0)} ms), p50 ${percentile(sorted, 50).toFixed(1)} ms, p90 ${percentile(sorted, 90).toFixed(1)} ms, max ${(sorted.at(-1) ?? 0).toFixed(1)} ms, ${((sum / (seconds * 1000)) * 100).toFixed(1)} % of the time; other collections ${otherMs.toFixed(1)} ms in all.`,
      `Under the sampling profiler: ${(total / refreshes / 1024).toFixed(1)} KiB allocated per refresh on the event loop.`,
      '',
      '| bytes per refresh | allocating frame |',
      '|---:|---|',
      ...[...bytes]
        .sort((a, b) => b[1] - a[1])
        .slice(0, Number(values.top ?? 25))
        .map(([frame, size]) => `| ${(size / refreshes).toFixed(0)} | \`${frame}\` |`),
      '',
    ].join('\n'),
  );
} finally {
  await cluster.close();
  preload.remove();
}
