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

/**
 * Starts Tessera instances as child processes (one process each, like production), over a fresh
 * SQLite file or a fresh PostgreSQL schema on the local server, optionally with the local Redis.
 */
export async function startCluster(options: ClusterOptions): Promise<BenchCluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-bench-'));
  const schema = `bench_${randomBytes(6).toString('hex')}`;
  const env: Record<string, string> = {
    TESSERA_SECRET: randomBytes(32).toString('base64url'),
    TESSERA_ISSUER: 'http://tessera.bench',
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

/** Starts the hand-written ceiling server (bench/src/ceiling-server.ts) over a fresh SQLite file. */
export async function startCeiling(): Promise<{ url: string; close(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-ceiling-'));
  const { spawn } = await import('node:child_process');
  const child = spawn(
    process.execPath,
    [new URL('./ceiling-server.ts', import.meta.url).pathname, join(dataDir, 'ceiling.db')],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      const match = /running at (\S+)/.exec(chunk.toString());
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`ceiling server exited with ${code}`)));
  });
  return {
    url,
    async close() {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
