// A small tmpfs of the test's own, to fill up: the disk-full scenario needs a real ENOSPC from the
// kernel, which only a size-limited file system gives without touching the machine's disks.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A mounted tmpfs. */
export interface Tmpfs {
  dir: string;
  /** Bytes still free. */
  available(): number;
  /** Writes a filler file until the kernel answers ENOSPC; returns the bytes written. */
  fill(): number;
  /** Deletes the filler file. */
  free(): void;
  /** Unmounts and removes the mount point (safe to call twice). */
  unmount(): void;
}

const FILLER = '.filler';

/** Why a tmpfs cannot be mounted here (not root, no mount permission), or `null`. */
export function tmpfsProblem(): string | null {
  try {
    mountTmpfs(1).unmount();
    return null;
  } catch (error) {
    return `cannot mount a tmpfs (mount -t tmpfs needs root): ${(error as Error).message.split('\n')[0]}`;
  }
}

/** Mounts a tmpfs of `sizeMiB` MiB on a fresh directory. */
export function mountTmpfs(sizeMiB: number): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let mounted = true;
  const filler = join(dir, FILLER);
  return {
    dir,
    available() {
      const stats = statfsSync(dir);
      return stats.bavail * stats.bsize;
    },
    fill() {
      const fd = openSync(filler, 'a');
      let written = 0;
      try {
        // Big writes first, then page-sized ones, so no whole page is left free.
        for (const size of [1 << 20, 4096, 512]) {
          const chunk = Buffer.alloc(size, 0xa5);
          for (;;) {
            try {
              written += writeSync(fd, chunk);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw error;
            }
          }
        }
      } finally {
        closeSync(fd);
      }
      return written;
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      if (!mounted) return;
      execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
      mounted = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
