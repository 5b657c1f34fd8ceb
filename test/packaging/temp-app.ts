import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from '../../scripts/build.ts';

/** The repository root. */
export const ROOT: string = resolve(import.meta.dirname, '../..');

/** The Node binaries the packages are proven on: the lowest `engines` allows, and the current LTS. */
export const NODE_BINARIES: Readonly<Record<'lowest' | 'current', string>> = Object.freeze({
  lowest: join(ROOT, 'node_modules/node22/bin/node'),
  current: join(ROOT, 'node_modules/node/bin/node'),
});

/** One package as `npm pack --json` describes its tarball. */
export interface PackedPackage {
  name: string;
  version: string;
  /** The tarball's absolute path. */
  tarball: string;
  /** Bytes, compressed. */
  size: number;
  unpackedSize: number;
  files: string[];
}

/** What a finished command printed. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/**
 * The environment for npm in an app outside the workspace: without the `npm_*` variables an
 * enclosing `npm test` sets (its local prefix would make npm treat the workspace as the project).
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']);
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_') || keep.has(name)),
  );
}

/**
 * Runs `command` with `args` in `cwd` (`env` added to the environment); rejects with its output when
 * it exits non-zero or outlives `timeoutMs`.
 */
export function run(
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs = 120_000,
  env: Readonly<Record<string, string>> = {},
): Promise<CommandOutput> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      command,
      args,
      {
        cwd,
        env: { ...cleanEnv(), ...env },
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error) {
          const what = `${command} ${args.join(' ')} (in ${cwd})`;
          reject(
            new Error(`${what} failed: ${error.message}\n${stdout}\n${stderr}`.trim(), { cause: error }),
          );
        } else {
          resolvePromise({ stdout, stderr });
        }
      },
    );
  });
}

/** The package directories of the workspace (`packages/*`, in the root's order). */
export function packageDirs(): string[] {
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  return root.workspaces.filter((path) => path.startsWith('packages/')).map((path) => join(ROOT, path));
}

/**
 * Packs every package into `destination`; resolves to what was packed. The packages' dist/ is built
 * once beforehand (`npm test` runs `npm run build`; a package without one is built here), and the
 * packing skips `prepack`: rebuilding there would empty dist/ while other tests read it.
 */
export async function packAll(destination: string): Promise<PackedPackage[]> {
  const dirs = packageDirs();
  if (dirs.some((dir) => !existsSync(join(dir, 'dist')))) build(dirs);
  const workspaces = dirs.flatMap((dir) => ['-w', dir]);
  const { stdout } = await run(
    'npm',
    [
      'pack',
      ...workspaces,
      '--ignore-scripts',
      '--pack-destination',
      destination,
      '--json',
      '--loglevel=error',
    ],
    ROOT,
    240_000,
  );
  const packed = JSON.parse(stdout) as Array<{
    name: string;
    version: string;
    filename: string;
    size: number;
    unpackedSize: number;
    files: Array<{ path: string }>;
  }>;
  return packed.map((entry) => ({
    name: entry.name,
    version: entry.version,
    tarball: join(destination, entry.filename),
    size: entry.size,
    unpackedSize: entry.unpackedSize,
    files: entry.files.map((file) => file.path),
  }));
}

/**
 * Creates an app in `dir` (its own package.json, ESM) and installs `specs` there: tarball paths and
 * registry packages, the latter from npm's cache when it has them.
 */
export async function createApp(dir: string, specs: readonly string[]): Promise<void> {
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'tessera-tarball-app', private: true, type: 'module' }, null, 2)}\n`,
  );
  await run(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...specs],
    dir,
    240_000,
  );
}

/** Every package name in an app's installed tree (`npm ls --all`), each once, sorted. */
export async function installedPackages(dir: string): Promise<string[]> {
  const { stdout } = await run('npm', ['ls', '--all', '--json'], dir);
  interface Node {
    version?: string;
    missing?: boolean;
    dependencies?: Record<string, Node>;
  }
  const found = new Set<string>();
  const walk = (dependencies: Record<string, Node> | undefined): void => {
    for (const [name, node] of Object.entries(dependencies ?? {})) {
      if (node.missing || node.version === undefined) continue;
      // A package appears once with its dependencies and elsewhere as "deduped", without them.
      found.add(`${name}@${node.version}`);
      walk(node.dependencies);
    }
  };
  walk((JSON.parse(stdout) as Node).dependencies);
  return [...found].sort();
}

/** The export specifiers of an installed package (`@tessera/server`, `@tessera/server/express`, …). */
export function exportSpecifiers(appDir: string, name: string): string[] {
  const manifest = JSON.parse(readFileSync(join(appDir, 'node_modules', name, 'package.json'), 'utf8')) as {
    exports: Record<string, unknown>;
  };
  return Object.keys(manifest.exports)
    .filter((key) => key !== './package.json')
    .map((key) => (key === '.' ? name : `${name}/${key.slice(2)}`));
}

/** Whether the Node binaries are installed (the `node` and `node22` devDependencies). */
export function nodeBinariesProblem(): string | null {
  const missing = Object.values(NODE_BINARIES).filter((path) => !existsSync(path));
  return missing.length === 0 ? null : `missing Node binaries ${missing.join(', ')} (run npm ci)`;
}
