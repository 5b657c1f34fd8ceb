// Builds the publishable packages: each gets a clean dist/ holding JavaScript and declarations only
// (`tsc -p tsconfig.build.json`: no tests, fixtures, source maps or build info). Each package's
// `prepack` runs it for that package; `npm run build` runs it for all of them.
//
//   node scripts/build.ts                  every package, dependencies first
//   node scripts/build.ts packages/server  one package (from its directory: node ../../scripts/build.ts .)
//
// A build resolves its workspace dependencies the way a user's install does, through their `types`
// in dist/ (the build config drops the @tessera/source condition), so a dependency without a dist/ is
// built first.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

function manifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;
}

/** The directories of the publishable packages (`packages/*` in the root's workspace order). */
export function packageDirs(): string[] {
  const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
  return root.workspaces.filter((path) => path.startsWith('packages/')).map((path) => join(ROOT, path));
}

function workspaceDependencies(dir: string, byName: ReadonlyMap<string, string>): string[] {
  const { dependencies = {}, peerDependencies = {}, devDependencies = {} } = manifest(dir);
  return Object.keys({ ...dependencies, ...peerDependencies, ...devDependencies })
    .map((name) => byName.get(name))
    .filter((path): path is string => path !== undefined);
}

/** Empties `dir`/dist and compiles the package into it; throws when tsc reports an error. */
export function buildPackage(dir: string): void {
  rmSync(join(dir, 'dist'), { recursive: true, force: true });
  const tsc = createRequire(join(ROOT, 'package.json')).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
  if (result.status !== 0) throw new Error(`tsc failed for ${basename(dir)} (exit ${result.status})`);
}

/**
 * Builds the packages in `dirs` (default: all), each after its workspace dependencies: all of them
 * when every package is built, only those without a dist/ otherwise.
 */
export function build(dirs: readonly string[] = packageDirs()): void {
  const all = packageDirs();
  const byName = new Map(all.map((dir) => [manifest(dir).name, dir]));
  const wanted = new Set(dirs.map((dir) => resolve(dir)));
  const done = new Set<string>();
  const visit = (dir: string, trail: readonly string[]): void => {
    if (done.has(dir)) return;
    if (trail.includes(dir))
      throw new Error(`dependency cycle: ${[...trail, dir].map((path) => basename(path)).join(' → ')}`);
    for (const dependency of workspaceDependencies(dir, byName)) {
      if (wanted.has(dependency) || !existsSync(join(dependency, 'dist'))) visit(dependency, [...trail, dir]);
    }
    buildPackage(dir);
    done.add(dir);
  };
  for (const dir of wanted) visit(dir, []);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  try {
    build(args.length > 0 ? args : undefined);
  } catch (error) {
    process.stderr.write(`build: ${(error as Error).message}\n`);
    process.exitCode = 1;
  }
}
