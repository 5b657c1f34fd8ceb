import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './child-server.ts';

/**
 * Why a test that needs a local service cannot run, or `null` when it can. Under `CI=true` a missing
 * service is a failure, so callers turn a reason into a thrown error there and a skip elsewhere.
 */
export function skipReason(reason: string | null): string | false {
  if (reason === null) return false;
  if (process.env.CI === 'true') throw new Error(`CI requires this service: ${reason}`);
  process.stdout.write(`# skipped: ${reason}\n`);
  return reason;
}

/** The shared PostgreSQL on 127.0.0.1:5432, if it answers; `null` when reachable. */
export function sharedPostgresProblem(): string | null {
  try {
    execFileSync('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-q'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'PostgreSQL is not reachable on 127.0.0.1:5432';
  }
}

/** The shared Redis on 127.0.0.1:6379, if it answers. */
export function sharedRedisProblem(): string | null {
  try {
    const out = execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', '6379', 'ping'], { encoding: 'utf8' });
    return out.trim() === 'PONG' ? null : 'Redis did not answer PING on 127.0.0.1:6379';
  } catch {
    return 'Redis is not reachable on 127.0.0.1:6379 (or redis-cli is missing)';
  }
}

function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const version = readdirSync(root).sort().pop();
  return version ? join(root, version, 'bin') : null;
}

/** A PostgreSQL cluster of the test's own, which it may stop and restart. */
export interface PrivatePostgres {
  url: string;
  stop(): void;
  start(): void;
  destroy(): void;
}

/** Why a private PostgreSQL cannot be started here, or `null`. */
export function privatePostgresProblem(): string | null {
  const bin = postgresBin();
  if (!bin || !existsSync(join(bin, 'initdb')))
    return 'PostgreSQL server binaries (initdb) are not installed';
  return null;
}

/**
 * Creates and starts a throw-away PostgreSQL cluster on a free loopback port (run as the `postgres`
 * user when the test runs as root, since PostgreSQL refuses root).
 */
export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBin() as string;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()), 0);
  const run = (tool: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', join(bin, tool), ...args], { stdio: 'ignore' })
      : execFileSync(join(bin, tool), args, { stdio: 'ignore' });
  run('initdb', ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  const start = () =>
    run('pg_ctl', ['-D', join(dir, 'data'), '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop: () => run('pg_ctl', ['-D', join(dir, 'data'), '-m', 'fast', '-w', 'stop']),
    start,
    destroy() {
      try {
        run('pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop']);
      } catch {
        // Already stopped.
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis server of the test's own. */
export interface PrivateRedis {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** Why a private Redis cannot be started here, or `null`. */
export function privateRedisProblem(): string | null {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'redis-server is not installed';
  }
}

/** Starts `redis-server` on a free loopback port with no persistence. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
      child?.stdout?.on('data', (chunk) => {
        out += chunk;
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      const running = child;
      // A process killed by a signal has a signalCode and no exitCode: both mean it is gone.
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGKILL');
      });
    },
    start,
  };
}
