// A script preloaded into `tessera start` (`node --import`) for a benchmark tool that measures from
// inside the server, and the file through which it answers: the tool signals the server (SIGUSR2),
// the script writes its figures to the file named by an environment variable (written aside and
// renamed into place, so the tool never reads half of it), and the tool takes them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A preload written to a temporary directory; see {@link writeServerPreload}. */
export interface ServerPreload {
  /** For `startCluster`'s `extraEnv`: `NODE_OPTIONS` with the `--import`, and `outVariable` = the file. */
  env: Record<string, string>;
  /** Waits (10 s at most) for the script's file, parses it and removes it, so the next answer is fresh. */
  take<T>(): Promise<T>;
  /** Removes the directory. */
  remove(): void;
}

/** Writes `script` as a preload whose answer goes to the file named by `process.env[outVariable]`. */
export function writeServerPreload(script: string, outVariable: string): ServerPreload {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-preload-'));
  const out = join(dir, 'out.json');
  writeFileSync(join(dir, 'preload.mjs'), script);
  return {
    env: { NODE_OPTIONS: `--import ${join(dir, 'preload.mjs')}`, [outVariable]: out },
    async take<T>(): Promise<T> {
      for (let i = 0; i < 200; i += 1) {
        let text: string;
        try {
          text = readFileSync(out, 'utf8');
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        rmSync(out);
        return JSON.parse(text) as T;
      }
      throw new Error(`the server's preload wrote nothing to ${out}`);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
