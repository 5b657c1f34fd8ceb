import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  type ChildServer,
  freePort,
  startChildServer,
  stopChildServer,
} from '../../test/helpers/child-server.ts';

/** Tessera instances started for a benchmark, with what they share. */
export interface BenchCluster {
  urls: string[];
  instances: ChildServer[];
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  instances: number;
  database: 'sqlite' | 'postgres';
  redis?: boolean;
  extraEnv?: Record<string, string>;
}

const SHARED_PG = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The issuer (and public URL) of every benchmark instance, whatever port it listens on. */
export const BENCH_ISSUER = 'http://tessera.bench';

/**
 * Starts Tessera instances as child processes (one process each, like production), over a fresh
 * SQLite file or a fresh PostgreSQL schema on the local server, optionally with the local Redis.
 */
export async function startCluster(options: ClusterOptions): Promise<BenchCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const env: Record<string, string> = {
    TESSERA_SECRET: randomBytes(32).toString('base64url'),
    TESSERA_ISSUER: BENCH_ISSUER,
    TESSERA_RATE_LIMIT: 'off',
    TESSERA_LOG_LEVEL: 'warn',
    TESSERA_DATABASE_URL:
      options.database === 'sqlite'
        ? `sqlite:${join(dataDir, 'tessera.db')}`
        : `${SHARED_PG}?schema=${schema}`,
    ...(options.redis
      ? {
          TESSERA_REDIS_URL: 'redis://127.0.0.1:6379',
          TESSERA_SERVICE_TOKEN: randomBytes(24).toString('hex'),
        }
      : {}),
    ...options.extraEnv,
  };
  const instances: ChildServer[] = [];
  // Start the first alone so it creates the schema and the first key; the rest join it.
  for (let i = 0; i < options.instances; i += 1) {
    instances.push(
      await startChildServer({
        ...env,
        TESSERA_PORT: String(await freePort()),
        TESSERA_DATA_DIR: join(dataDir, `i${i}`),
      }),
    );
  }
  for (const instance of instances) stopOnExit(instance.child);
  return {
    urls: instances.map((i) => i.url),
    instances,
    env,
    async close() {
      await Promise.all(instances.map((i) => stopChildServer(i, 'SIGTERM')));
      rmSync(dataDir, { recursive: true, force: true });
      if (options.database === 'postgres') {
        const client = new pg.Client({ connectionString: SHARED_PG });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await client.end();
      }
    },
  };
}

/** Kills `child` if the benchmark process exits first (a crash must not leave servers running). */
function stopOnExit(child: import('node:child_process').ChildProcess): void {
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
}

/** A benchmark server other than Tessera (the ceiling or a peer) running as a child process. */
export interface ScriptServer {
  url: string;
  child: import('node:child_process').ChildProcess;
  close(): Promise<void>;
}

/**
 * Runs `script` (a .ts file under bench/src) in its own Node process, as Tessera runs in its own,
 * and resolves once it prints `running at <url>`. `close()` stops it and removes `cleanupDir`.
 */
export async function startScript(
  script: URL,
  args: string[] = [],
  env: Record<string, string> = {},
  cleanupDir?: string,
): Promise<ScriptServer> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, ['--conditions=@tessera/source', script.pathname, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  stopOnExit(child);
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script.pathname} did not start`)), 30_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /running at (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script.pathname} exited with ${code}`));
    });
  });
  return {
    url,
    child,
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        await new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        });
      }
      if (cleanupDir) rmSync(cleanupDir, { recursive: true, force: true });
    },
  };
}

/** Starts the hand-written ceiling server (bench/src/ceiling-server.ts) over a fresh SQLite file. */
export async function startCeiling(): Promise<ScriptServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-ceiling-'));
  return startScript(
    new URL('./ceiling-server.ts', import.meta.url),
    [join(dataDir, 'ceiling.db')],
    {},
    dataDir,
  );
}
