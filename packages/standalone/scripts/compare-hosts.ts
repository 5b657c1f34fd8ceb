// Refresh throughput of the standalone hosts side by side, in one run: the Fastify standalone server as
// it was before the web-standard handler (extracted from git at BASELINE into a temporary directory),
// today's node:http standalone server (the Node fast path), Fastify over today's handler, and node:http
// through the plain web conversion (a `Request` built per request). Each runs in its own process
// on its own SQLite file; loads alternate host by host, ROUNDS rounds of SECONDS seconds each, rotating
// refresh tokens (bench/src/http-load.ts drives autocannon in a child process).
// Run: npm exec -- node --conditions=@tessera/source packages/standalone/scripts/compare-hosts.ts
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { Agent } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runHttpLoad } from '../../../bench/src/http-load.ts';
import { createSessions } from '../../../bench/src/refresh-scenario.ts';
import { freePort } from '../../../test/helpers/child-server.ts';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string', default: 'dcbda00' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    connections: { type: 'string', default: '64' },
  },
});
const ROUNDS = Number(values.rounds);
const SECONDS = Number(values.seconds);
const CONNECTIONS = Number(values.connections);
const root = new URL('../../../', import.meta.url).pathname;

/** Extracts the baseline tree and links it to this checkout's installed packages (its own workspaces first). */
function extractBaseline(commit: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-baseline-'));
  execFileSync('sh', ['-c', `git -C "${root}" archive ${commit} | tar -x -C "${dir}"`]);
  mkdirSync(join(dir, 'node_modules', '@tessera'), { recursive: true });
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (name !== '@tessera' && name !== '.bin')
      symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name));
  }
  for (const name of readdirSync(join(dir, 'packages'))) {
    symlinkSync(join(dir, 'packages', name), join(dir, 'node_modules', '@tessera', name));
    const nested = join(root, 'packages', name, 'node_modules');
    if (existsSync(nested)) symlinkSync(nested, join(dir, 'packages', name, 'node_modules'));
  }
  return dir;
}

interface Host {
  name: string;
  url: string;
  child: ChildProcess;
  tokens: string[];
  rps: number[];
  /** Server CPU time (user + system, all threads) per answered request, in microseconds, per run. */
  cpuUs: number[];
}

/** CPU time a process has used so far, in milliseconds (Linux: /proc/<pid>/stat, clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function startHost(name: string, script: string, dataDir: string): Promise<Host> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--conditions=@tessera/source', script, ...(script.endsWith('tessera.ts') ? ['start'] : [])],
    {
      env: {
        ...process.env,
        TESSERA_PORT: String(port),
        TESSERA_DATA_DIR: dataDir,
        TESSERA_SECRET: randomBytes(32).toString('base64url'),
        TESSERA_RATE_LIMIT: 'off',
        TESSERA_LOG_LEVEL: 'warn',
        TESSERA_ISSUER: 'http://tessera.bench',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  process.once('exit', () => child.kill('SIGKILL'));
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /running at (http:\/\/\S+)/.exec(output);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`${name} exited with ${code}: ${output}`)));
  });
  return { name, url, child, tokens: [], rps: [], cpuUs: [] };
}

const baselineDir = extractBaseline(values.baseline);
const dataDir = mkdtempSync(join(tmpdir(), 'tessera-hosts-'));
const scripts: ReadonlyArray<[string, string]> = [
  ['fastify (before)', join(baselineDir, 'packages/server/src/bin/tessera.ts')],
  ['node:http (now)', join(root, 'packages/standalone/src/bin/tessera.ts')],
  ['fastify adapter (now)', join(root, 'packages/standalone/scripts/fastify-host.ts')],
  ['web conversion (now)', join(root, 'packages/standalone/scripts/web-host.ts')],
];
const hosts: Host[] = [];
for (const [name, script] of scripts)
  hosts.push(await startHost(name, script, join(dataDir, String(hosts.length))));
const agent = new Agent({ keepAlive: true, maxSockets: 16 });
for (const host of hosts) host.tokens = await createSessions([host.url], 2 * CONNECTIONS, agent);
agent.destroy();

const load0 = loadavg()[0] ?? 0;
for (let round = 1; round <= ROUNDS; round += 1) {
  for (const host of round % 2 === 1 ? hosts : [...hosts].reverse()) {
    const cpuBefore = cpuMs(host.child.pid as number);
    const result = await runHttpLoad({
      urls: [host.url],
      path: '/auth/refresh',
      method: 'POST',
      connections: CONNECTIONS,
      seconds: SECONDS,
      warmupSeconds: 1,
      credential: { kind: 'rotating-json', tokens: host.tokens },
    });
    // The CPU time covers the warm-up second too: count its requests at the measured rate.
    const cpuUs = ((cpuMs(host.child.pid as number) - cpuBefore) * 1000) / (result.rps * (SECONDS + 1));
    host.tokens = result.tokens;
    host.rps.push(result.rps);
    host.cpuUs.push(cpuUs);
    process.stdout.write(
      `round ${round} ${host.name.padEnd(22)} ${Math.round(result.rps)} req/s  p99 ${result.p99Ms.toFixed(1)} ms  ${Math.round(cpuUs)} µs CPU/request  errors ${result.errors}\n`,
    );
  }
}
const load1 = loadavg()[0] ?? 0;
const mean = (xs: number[]) => xs.reduce((sum, x) => sum + x, 0) / xs.length;
const median = (xs: number[]) => {
  const sorted = [...xs].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const [before, now] = hosts as [Host, Host];
process.stdout.write(
  `\n${cpus().length} cores; load average ${load0.toFixed(2)} at the start, ${load1.toFixed(2)} at the end\n`,
);
for (const host of hosts) {
  process.stdout.write(
    `${host.name.padEnd(22)} mean ${Math.round(mean(host.rps))} req/s, median ${Math.round(median(host.rps))} (${host.rps.map(Math.round).join(', ')}); server CPU per request: median ${Math.round(median(host.cpuUs))} µs (${host.cpuUs.map(Math.round).join(', ')})\n`,
  );
}
// Runs next to each other share the machine's load: the ratio within each round is the steadier figure.
for (const host of hosts.slice(1)) {
  const perRound = host.rps.map((rps, i) => (100 * rps) / (before.rps[i] as number));
  process.stdout.write(
    `${host.name} / fastify (before): mean ${((100 * mean(host.rps)) / mean(before.rps)).toFixed(1)} %, per round ${perRound.map((r) => `${r.toFixed(0)} %`).join(', ')} (median ${median(perRound).toFixed(1)} %)\n`,
  );
}
// CPU time per request does not depend on how busy the machine was: the steadiest comparison.
for (const host of hosts.slice(1)) {
  process.stdout.write(
    `${host.name} CPU per request / fastify (before): ${((100 * median(host.cpuUs)) / median(before.cpuUs)).toFixed(1)} % (medians)\n`,
  );
}
for (const host of hosts.slice(2)) {
  const perRound = host.rps.map((rps, i) => (100 * rps) / (now.rps[i] as number));
  process.stdout.write(
    `${host.name} / node:http (now): per round ${perRound.map((r) => `${r.toFixed(0)} %`).join(', ')} (median ${median(perRound).toFixed(1)} %)\n`,
  );
}

for (const host of hosts) host.child.kill('SIGTERM');
await Promise.all(hosts.map((h) => new Promise((resolve) => h.child.once('exit', resolve))));
rmSync(dataDir, { recursive: true, force: true });
rmSync(baselineDir, { recursive: true, force: true });
