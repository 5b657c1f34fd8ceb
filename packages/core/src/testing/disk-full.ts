import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options of {@link mountTmpfs}. */
export interface TmpfsOptions {
  /** The size, as `mount` takes it (`4m`). */
  size: string;
  /** The OS user to own the mount's root (`postgres`, for a tablespace), instead of root. */
  owner?: string;
}

/**
 * Mounts a small tmpfs at a new temporary directory, for tests of a full disk. Needs root (and a
 * kernel that lets this process mount). Resolves the directory, or why it cannot mount (not root,
 * unknown owner, mount refused); the caller skips outside CI and fails under `CI=true`.
 * @example
 * const mounted = mountTmpfs({ size: '4m' });
 */
export function mountTmpfs(options: TmpfsOptions): { dir: string } | { problem: string } {
  if (process.getuid?.() !== 0) return { problem: 'mounting a tmpfs needs root' };
  let owner = '';
  if (options.owner !== undefined) {
    try {
      const id = (flag: string) =>
        execFileSync('id', [flag, options.owner as string], { encoding: 'utf8', stdio: 'pipe' }).trim();
      owner = `,mode=0700,uid=${id('-u')},gid=${id('-g')}`;
    } catch {
      return { problem: `there is no ${options.owner} user on this machine` };
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${options.size}${owner}`, 'tmpfs', dir], {
      stdio: 'pipe',
    });
    return { dir };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const detail = (error as { stderr?: Buffer }).stderr?.toString().trim() || String(error);
    return { problem: `mounting a tmpfs was refused (${detail})` };
  }
}

/** Unmounts a tmpfs made by {@link mountTmpfs} and removes its directory. */
export function unmountTmpfs(dir: string): void {
  execFileSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
}

/** Fills the file system holding `dir` to the last byte with a file in `dir`; returns its path (delete it to free the space). */
export function fillDisk(dir: string): string {
  const path = join(dir, `filler-${process.pid}-${Date.now()}`);
  const fd = openSync(path, 'a');
  try {
    for (const size of [1 << 20, 1 << 16, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as { code?: string }).code !== 'ENOSPC') throw error;
      }
    }
  } finally {
    closeSync(fd);
  }
  return path;
}
