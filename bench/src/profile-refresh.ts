// Where one Tessera refresh's CPU goes: `tessera start` (SQLite, production settings) run under V8's
// CPU profiler (`--cpu-prof`, every thread: the event loop and the signing thread) through a short
// closed-loop refresh load; the samples taken during the load are sorted into categories and divided
// by the refreshes answered. Usage:
//   npm exec -- node --conditions=@tessera/source bench/src/profile-refresh.ts [--seconds=5] [--interval-us=200]
//     [--signing-thread=on|off] [--top=N] [--rate=N]
// --rate=N paces the profiled load at N refreshes a second (the paced sender of the half-load runs)
// instead of the closed loop, to see what a refresh costs when batches are small.
// Prints a markdown table; the OS's own CPU count for the same span is printed beside it as a check.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startCluster } from './cluster.ts';
import { processCpuSeconds, runHttpLoad } from './http-load.ts';
import { createSessions } from './refresh-scenario.ts';

/** A V8 CPU profile (`.cpuprofile`), the parts used here. */
interface CpuProfile {
  nodes: Array<{
    id: number;
    callFrame: { functionName: string; url: string };
    children?: number[];
  }>;
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The categories of the breakdown, in the order the table lists them. */
export const CATEGORIES = [
  'Ed25519 signature',
  'JWT assembly, handoff to the signing thread',
  'HTTP (sockets, parsing, routing, headers)',
  'JSON (parse, stringify)',
  'HMAC (refresh-token MAC, token encoding)',
  'SQLite BEGIN/COMMIT (fsync)',
  'SQLite statements (reads, rotation)',
  'engine logic (checks, claims, events)',
  'random bytes',
  'garbage collection',
  'other',
] as const;
type Category = (typeof CATEGORIES)[number];

type Frame = CpuProfile['nodes'][number]['callFrame'];

/**
 * The category of one event-loop frame, or `undefined` when the frame says nothing of its own (an
 * anonymous native frame, Node's task queue): the caller then asks the frame's parent. V8 gives
 * built-ins such as `JSON.parse` and `node:sqlite`'s `run` no frame of their own: their time is the
 * caller's self time, so the callers that do little else stand for them (`readBody` for the
 * request's `JSON.parse`, `json` for the reply's `JSON.stringify`, `inTransaction` for `BEGIN` and
 * `COMMIT`, the store's statement closures for the statements).
 */
function categoryOf(frame: Frame): Category | undefined {
  const { functionName: fn, url } = frame;
  if (fn === '(garbage collector)') return 'garbage collection';
  if (
    (fn === 'json' && url.endsWith('/http/error-response.ts')) ||
    (fn === 'readBody' && url.endsWith('/http/body.ts'))
  )
    return 'JSON (parse, stringify)';
  if (fn === 'parse' || fn === 'stringify') return 'JSON (parse, stringify)';
  if (url.includes('/store/sqlite')) {
    return fn === 'inTransaction' ? 'SQLite BEGIN/COMMIT (fsync)' : 'SQLite statements (reads, rotation)';
  }
  if (url.endsWith('/tokens/refresh-token.ts') || /^(Hmac|createHmac)$/.test(fn))
    return 'HMAC (refresh-token MAC, token encoding)';
  if (/randomBytes|randomUUID|randomFill/.test(fn) || url.includes('internal/crypto/random'))
    return 'random bytes';
  // Inline signing (TESSERA_SIGNING_THREAD=off, or one core); on the signing thread every sample is one.
  if (url.includes('internal/crypto/sig')) return 'Ed25519 signature';
  if (
    /\/tokens\/(jws-signer|sign-jws|access-token)\.ts$/.test(url) ||
    url.endsWith('/engine/issue-tokens.ts') ||
    url.includes('/jose/') ||
    url.includes('internal/worker') ||
    fn === 'postMessage'
  )
    return 'JWT assembly, handoff to the signing thread';
  if (url.includes('/packages/core/src/')) return 'engine logic (checks, claims, events)';
  if (
    /node:(_http|net|events|internal\/(http|streams|stream_base|net|js_stream|url))/.test(url) ||
    url.includes('node:stream') ||
    url.includes('/packages/server/src/') ||
    url.includes('/fastify') ||
    /^(writev|writeUtf8String|writeBuffer|writeLatin1String|onStreamRead|afterWriteDispatched|shutdown)$/.test(
      fn,
    )
  )
    return 'HTTP (sockets, parsing, routing, headers)';
  return undefined;
}

/**
 * Sums a profile's samples taken between `fromUs` and `toUs` (V8's monotonic clock, µs) by category:
 * each sample goes to the first frame, from the leaf up, that names a category. Idle and program
 * (outside JavaScript, e.g. waiting in epoll) samples are counted apart.
 */
export function categorize(
  profile: CpuProfile,
  fromUs: number,
  toUs: number,
  signingThread: boolean,
): { byCategory: Map<Category, number>; byFrame: Map<string, number>; idleUs: number; programUs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const cache = new Map<number, Category | 'idle' | 'program'>();
  const classify = (id: number): Category | 'idle' | 'program' => {
    const known = cache.get(id);
    if (known) return known;
    const leaf = byId.get(id)?.callFrame;
    let result: Category | 'idle' | 'program' = signingThread ? 'Ed25519 signature' : 'other';
    if (leaf?.functionName === '(idle)') result = 'idle';
    else if (leaf?.functionName === '(program)') result = 'program';
    else if (leaf?.functionName === '(garbage collector)') result = 'garbage collection';
    else if (!signingThread) {
      for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
        const frame = byId.get(at)?.callFrame;
        const category = frame ? categoryOf(frame) : undefined;
        if (category) {
          result = category;
          break;
        }
      }
    }
    cache.set(id, result);
    return result;
  };
  const byCategory = new Map<Category, number>(CATEGORIES.map((c) => [c, 0]));
  const byFrame = new Map<string, number>();
  let idleUs = 0;
  let programUs = 0;
  let at = profile.startTime;
  for (const [i, sample] of profile.samples.entries()) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    // A sample stands for the time since the previous one.
    if (at < fromUs || at > toUs) continue;
    const category = classify(sample);
    const leaf = byId.get(sample)?.callFrame;
    const parentId = parentOf.get(sample);
    const parent = parentId === undefined ? undefined : byId.get(parentId)?.callFrame;
    const label = `${category} ← ${leaf?.functionName || '(anonymous)'} ${leaf?.url.split('/').slice(-2).join('/') ?? ''} ← ${parent?.functionName ?? ''}`;
    byFrame.set(label, (byFrame.get(label) ?? 0) + delta);
    if (category === 'idle') idleUs += delta;
    else if (category === 'program') programUs += delta;
    else byCategory.set(category, (byCategory.get(category) ?? 0) + delta);
  }
  return { byCategory, byFrame, idleUs, programUs };
}

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    'interval-us': { type: 'string' },
    top: { type: 'string' },
    'signing-thread': { type: 'string' },
    rate: { type: 'string' },
  },
});
const seconds = Number(values.seconds ?? 5);
const intervalUs = Number(values['interval-us'] ?? 200);
const profileDir = mkdtempSync(join(tmpdir(), 'tessera-profile-'));
const cluster = await startCluster({
  instances: 1,
  database: 'sqlite',
  extraEnv: {
    NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir} --cpu-prof-interval=${intervalUs}`,
    // --signing-thread=off profiles signing on the event loop (TESSERA_SIGNING_THREAD), for comparison.
    ...(values['signing-thread'] ? { TESSERA_SIGNING_THREAD: values['signing-thread'] } : {}),
  },
});
const pid = cluster.instances[0]?.child.pid ?? 0;
let refreshes = 0;
let osCpuSeconds = 0;
let fromUs = 0;
let toUs = 0;
try {
  const tokens = await createSessions(cluster.urls, 128, new Agent({ keepAlive: true }));
  // A warm-up outside the window, then the profiled window: V8's profile clock and hrtime are both
  // the OS's monotonic clock, so the window is cut from the parent's side.
  const warm = await runHttpLoad({
    urls: cluster.urls,
    path: '/auth/refresh',
    method: 'POST',
    credential: { kind: 'rotating-json', tokens },
    connections: 64,
    seconds: 1,
  });
  const cpuBefore = processCpuSeconds([pid]);
  fromUs = Number(process.hrtime.bigint() / 1000n);
  const result = await runHttpLoad({
    urls: cluster.urls,
    path: '/auth/refresh',
    method: 'POST',
    credential: { kind: 'rotating-json', tokens: warm.tokens },
    connections: 64,
    seconds,
    warmupSeconds: 0,
    ...(values.rate ? { rate: Number(values.rate) } : {}),
  });
  toUs = Number(process.hrtime.bigint() / 1000n);
  osCpuSeconds = processCpuSeconds([pid]) - cpuBefore;
  // The child's first sizing run counts too: everything answered inside the window.
  refreshes = result.answered ?? result.requests;
} finally {
  await cluster.close();
}

const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
const totals = new Map<Category, number>(CATEGORIES.map((c) => [c, 0]));
let programUs = 0;
const threads: string[] = [];
const frames = new Map<string, number>();
for (const file of files) {
  const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile;
  // The signing thread's profile is the one whose code is the signer's worker.
  const signingThread = profile.nodes.some((n) => n.callFrame.url.includes('jws-sign-worker'));
  const part = categorize(profile, fromUs, toUs, signingThread);
  threads.push(
    `${signingThread ? 'signing thread' : 'main thread'}: ${(part.idleUs / 1000).toFixed(0)} ms idle`,
  );
  for (const [category, us] of part.byCategory) totals.set(category, (totals.get(category) ?? 0) + us);
  for (const [label, us] of part.byFrame) frames.set(label, (frames.get(label) ?? 0) + us);
  programUs += part.programUs;
}
rmSync(profileDir, { recursive: true, force: true });
totals.set('other', (totals.get('other') ?? 0) + programUs);
const sampled = [...totals.values()].reduce((a, b) => a + b, 0);
const rows = CATEGORIES.map((category) => {
  const us = totals.get(category) ?? 0;
  return `| ${category} | ${(us / refreshes).toFixed(1)} | ${((100 * us) / sampled).toFixed(0)} % |`;
});
process.stdout.write(
  [
    `CPU profile of ${refreshes} refreshes (${seconds} s, 64 connections, sampling every ${intervalUs} µs, TESSERA_SIGNING_THREAD=${values['signing-thread'] ?? 'auto'}, ${files.length} thread profiles; ${threads.join(', ')})`,
    '',
    '| category | µs per refresh | share |',
    '|---|---:|---:|',
    ...rows,
    `| **total sampled** | **${(sampled / refreshes).toFixed(1)}** | 100 % |`,
    '',
    `The OS's count for the same span (/proc/<pid>/stat, user + system, every thread): ${((osCpuSeconds * 1e6) / refreshes).toFixed(1)} µs per refresh.`,
    '"other" includes V8\'s "(program)" samples (native code outside JavaScript: the kernel calls of socket and file I/O among them).',
    '',
  ].join('\n'),
);
// --top=N: the N heaviest leaf frames with their category, to check the sorting.
const top = Number(values.top ?? 0);
if (top > 0) {
  const heaviest = [...frames].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [label, us] of heaviest)
    process.stdout.write(`${(us / refreshes).toFixed(1).padStart(7)} µs  ${label}\n`);
}
