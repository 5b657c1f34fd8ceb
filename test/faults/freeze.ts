// Freezing a service (SIGSTOP) instead of stopping it: its connections stay open and silent, as in a
// network partition, a paused VM or a failover that leaves the old primary unreachable. A client
// without deadlines waits forever on such a peer; a stopped one at least refuses.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The processes of a service, to freeze and thaw together. */
export interface Frozen {
  thaw(): void;
}

/** The process id of the Redis server at `url` (`INFO server`). */
export function redisPids(url: string): number[] {
  const info = execFileSync('redis-cli', ['-u', url, 'INFO', 'server'], { encoding: 'utf8', timeout: 5000 });
  return [Number(/process_id:(\d+)/.exec(info)?.[1])];
}

/** The postmaster and every backend of the PostgreSQL cluster at `url`. */
export function postgresPids(url: string): number[] {
  const dir = execFileSync('psql', [url, '-Atc', 'SHOW data_directory'], {
    encoding: 'utf8',
    timeout: 5000,
  }).trim();
  const postmaster = Number(readFileSync(join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(postmaster)], { encoding: 'utf8' })
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((pid) => pid > 0);
  return [postmaster, ...children];
}

/** Sends SIGSTOP to `pids` (processes the test started); `thaw()` sends SIGCONT. */
export function freeze(pids: number[]): Frozen {
  if (pids.some((pid) => !Number.isInteger(pid) || pid <= 1)) throw new Error(`refusing to freeze ${pids}`);
  for (const pid of pids) process.kill(pid, 'SIGSTOP');
  let frozen = true;
  return {
    thaw() {
      if (!frozen) return;
      frozen = false;
      for (const pid of pids) process.kill(pid, 'SIGCONT');
    },
  };
}
