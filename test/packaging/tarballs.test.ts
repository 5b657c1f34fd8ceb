// What ships is what is tested: every package is packed as npm would publish it, installed from its
// tarball into apps outside the workspace, and used there under plain Node (no @tessera/source
// condition) on the lowest Node `engines` allows and on the current LTS.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { skipReason } from '../helpers/services.ts';
import {
  createApp,
  exportSpecifiers,
  installedPackages,
  NODE_BINARIES,
  nodeBinariesProblem,
  type PackedPackage,
  packAll,
  packageDirs,
  ROOT,
  run,
} from './temp-app.ts';

const FIXTURES = join(import.meta.dirname, 'app');
/** What a SQLite app installs: no PostgreSQL, Redis or framework package of ours beyond Express. */
const SQLITE_APP = [
  '@tessera/protocol',
  '@tessera/core',
  '@tessera/server',
  '@tessera/verify',
  '@tessera/client',
];
/** Registry packages, at the ranges the workspace tests with (so npm's cache has them). */
const EXPRESS = ['express@^5.3.0'];
const EVERY_PEER = [
  ...EXPRESS,
  'koa@^3.3.0',
  'fastify@^5.12.8',
  'hono@^4.13.19',
  '@nestjs/common@^12.5.1',
  'reflect-metadata@^0.2.2',
  'rxjs@^7.8.2',
  '@types/express@^5.0.6',
  '@types/koa@^3.0.3',
  // @types/koa reads `content-disposition`'s types from @types/content-disposition, but Express 5.3
  // brings content-disposition 2, whose own types lack what @types/koa uses; an app on both frameworks
  // keeps version 1 (untyped) at the top so @types/koa finds its types. Nothing of Tessera's is involved.
  'content-disposition@^1.0.1',
  '@types/node@^24.10.0',
];
/** Drivers an app on SQLite must never install. */
const DRIVERS = ['pg', 'ioredis'];

// Run once, from the current Node (the lowest-Node pass of CI runs the suite again): the test proves
// both Node versions itself, each in its own process.
const skip =
  Number(process.versions.node.split('.')[0]) < 24
    ? 'proves both Node versions itself; runs from the current Node only'
    : skipReason(nodeBinariesProblem());

describe('packages as published, installed from their tarballs', { skip, timeout: 600_000 }, () => {
  let work = '';
  let packed: PackedPackage[] = [];
  let sqliteApp = '';
  let fullApp = '';
  const tarball = (name: string): string => {
    const found = packed.find((entry) => entry.name === name);
    assert.ok(found, `${name} was packed`);
    return found.tarball;
  };

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'tessera-tarballs-'));
    mkdirSync(join(work, 'tarballs'));
    packed = await packAll(join(work, 'tarballs'));
    sqliteApp = join(work, 'sqlite-app');
    fullApp = join(work, 'full-app');
    mkdirSync(sqliteApp);
    mkdirSync(fullApp);
    await createApp(sqliteApp, [...SQLITE_APP.map(tarball), ...EXPRESS]);
    await createApp(fullApp, [...packed.map((entry) => entry.tarball), ...EVERY_PEER]);
    for (const dir of [sqliteApp, fullApp]) {
      for (const file of ['flow.mjs', 'imports.mjs', 'consumer.ts'])
        copyFileSync(join(FIXTURES, file), join(dir, file));
    }
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('packs every package, shipping only dist/, README, LICENSE (and the standalone page)', (t) => {
    const names = packageDirs().map(
      (dir) => (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string }).name,
    );
    assert.deepEqual(packed.map((entry) => entry.name).sort(), [...names].sort());
    const rows = [];
    for (const entry of packed) {
      const allowed = entry.name === '@tessera/standalone' ? /^(dist\/|public\/)/ : /^dist\//;
      for (const file of entry.files) {
        if (file === 'package.json' || file === 'README.md' || file === 'LICENSE') continue;
        assert.match(file, allowed, `${entry.name} ships ${file}`);
        assert.match(file, /\.(js|d\.ts)$|^public\//, `${entry.name} ships ${file}`);
        assert.doesNotMatch(file, /\.test\.|fixtures\/|\.tsbuildinfo|\.map$/, `${entry.name} ships ${file}`);
      }
      for (const needed of ['README.md', 'LICENSE', 'dist/index.js', 'dist/index.d.ts']) {
        assert.ok(entry.files.includes(needed), `${entry.name} ships ${needed}`);
      }
      rows.push(
        `${entry.name.padEnd(20)} ${`${(entry.size / 1024).toFixed(1)} kB`.padStart(9)} packed ${`${(entry.unpackedSize / 1024).toFixed(1)} kB`.padStart(9)} unpacked ${String(entry.files.length).padStart(4)} files`,
      );
    }
    t.diagnostic(`tarballs:\n${rows.join('\n')}`);
  });

  it('states the lowest Node tested as the minimum in every engines field', () => {
    const lowest = (
      JSON.parse(readFileSync(join(ROOT, 'node_modules/node22/package.json'), 'utf8')) as { version: string }
    ).version;
    for (const dir of [ROOT, ...packageDirs()]) {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name: string;
        engines?: { node?: string };
      };
      assert.equal(manifest.engines?.node, `>=${lowest}`, `${manifest.name}'s engines.node`);
    }
  });

  it('installs neither pg nor ioredis in an app on SQLite (core, server, verify, client, Express)', async (t) => {
    const installed = await installedPackages(sqliteApp);
    const drivers = installed.filter((id) => DRIVERS.includes(id.slice(0, id.lastIndexOf('@'))));
    assert.deepEqual(drivers, []);
    const ours = installed.filter((id) => id.startsWith('@tessera/'));
    assert.deepEqual(
      ours.map((id) => id.slice(0, id.lastIndexOf('@'))),
      [...SQLITE_APP].sort(),
    );
    t.diagnostic(`a SQLite app installs ${installed.length} packages:\n${installed.join('\n')}`);
  });

  for (const [label, node] of Object.entries(NODE_BINARIES)) {
    it(`imports every export of every package under plain Node (${label})`, async () => {
      const specifiers = packed.flatMap((entry) => exportSpecifiers(fullApp, entry.name));
      const { stdout } = await run(node, ['--no-warnings', 'imports.mjs', ...specifiers], fullApp);
      const result = JSON.parse(stdout) as {
        node: string;
        modules: Record<string, string[]>;
        failures: object;
      };
      assert.deepEqual(result.failures, {});
      assert.deepEqual(Object.keys(result.modules).sort(), [...specifiers].sort());
      for (const [specifier, names] of Object.entries(result.modules)) {
        assert.ok(names.length > 0, `${specifier} exports something`);
      }
    });

    it(`runs Express + @tessera/server + @tessera/verify + the Node client across token lifetimes (${label})`, async () => {
      const { stdout } = await run(node, ['--no-warnings', 'flow.mjs'], sqliteApp, 60_000);
      const result = JSON.parse(stdout) as {
        statuses: number[];
        tokens: number;
        renewals: number;
        anonymous: number;
        afterLogout: number;
      };
      // 3.5 s of calls with a 1 s access token: at least two renewals, never a refused call.
      assert.ok(result.statuses.length >= 5, `calls made: ${result.statuses.length}`);
      assert.deepEqual(new Set(result.statuses), new Set([200]));
      assert.ok(result.renewals >= 2, `renewals: ${result.renewals}`);
      assert.ok(result.tokens >= 3, `distinct access tokens: ${result.tokens}`);
      assert.equal(result.anonymous, 401);
      assert.equal(result.afterLogout, 401);
    });
  }

  it('runs the tessera command of @tessera/standalone on SQLite under both Node versions', async () => {
    const bin = join(fullApp, 'node_modules/@tessera/standalone/dist/bin/tessera.js');
    for (const node of Object.values(NODE_BINARIES)) {
      const dataDir = mkdtempSync(join(work, 'standalone-'));
      const env = { TESSERA_DATA_DIR: dataDir, TESSERA_LOG_LEVEL: 'warn' };
      const migrated = await run(node, ['--no-warnings', bin, 'migrate'], fullApp, 60_000, env);
      assert.match(migrated.stdout, /schema is up to date/);
      const rotated = await run(node, ['--no-warnings', bin, 'keys', 'rotate'], fullApp, 60_000, env);
      assert.match(rotated.stdout, /New signing key \S+ \(EdDSA\)/);
      const listed = await run(node, ['--no-warnings', bin, 'keys', 'list'], fullApp, 60_000, env);
      // The key the engine made when it first opened, retired by the rotation, and the new one.
      const states = listed.stdout
        .trim()
        .split('\n')
        .map((line) => line.split('\t')[3]?.split(' ')[0]);
      assert.deepEqual(states.sort(), ['retired', 'signing'], listed.stdout);
      // A bad setting is refused by the engine's rules, named by its variable (exit 78).
      await assert.rejects(
        run(node, ['--no-warnings', bin, 'migrate'], fullApp, 60_000, { ...env, TESSERA_CLOCK_LEEWAY: '2m' }),
        /TESSERA_CLOCK_LEEWAY: must be a whole number from 0 to 60 seconds/,
      );
    }
  });

  for (const resolution of ['nodenext', 'bundler'] as const) {
    it(`type-checks a TypeScript consumer under moduleResolution ${resolution}, skipLibCheck false`, async () => {
      const specifiers = packed.flatMap((entry) => exportSpecifiers(fullApp, entry.name));
      writeFileSync(
        join(fullApp, 'exports.ts'),
        specifiers.map((specifier, i) => `export * as m${i} from '${specifier}';\n`).join(''),
      );
      const config = {
        compilerOptions: {
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          target: 'es2022',
          lib: resolution === 'bundler' ? ['es2024', 'dom'] : ['es2024'],
          types: ['node'],
          module: resolution === 'bundler' ? 'preserve' : 'nodenext',
          moduleResolution: resolution,
          verbatimModuleSyntax: true,
        },
        files: ['consumer.ts', 'exports.ts'],
      };
      writeFileSync(join(fullApp, `tsconfig.${resolution}.json`), JSON.stringify(config, null, 2));
      const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
      await run(NODE_BINARIES.current, [tsc, '-p', `tsconfig.${resolution}.json`], fullApp);
    });
  }

  it('publint finds nothing in any tarball, suggestions included', async () => {
    const publint = join(ROOT, 'node_modules/publint/src/cli.js');
    for (const entry of packed) {
      const { stdout } = await run(NODE_BINARIES.current, [publint, 'run', entry.tarball, '--strict'], work);
      assert.match(stdout, /All good!/, `${entry.name}: ${stdout}`);
    }
  });

  it('attw (profile esm-only) finds no problem in any tarball', async () => {
    const attw = join(ROOT, 'node_modules/@arethetypeswrong/cli/dist/index.js');
    for (const entry of packed) {
      const { stdout } = await run(
        NODE_BINARIES.current,
        [attw, entry.tarball, '--profile', 'esm-only', '--no-definitely-typed', '--format', 'json'],
        work,
      );
      // attw exits non-zero on a problem its profile counts; the JSON lists every resolution's, so
      // leave out those the esm-only profile ignores (CommonJS `require` and pre-exports `node10`).
      const report = JSON.parse(stdout) as { analysis: { problems: Array<{ resolutionKind?: string }> } };
      const counted = report.analysis.problems.filter(
        (problem) => !['node10', 'node16-cjs'].includes(problem.resolutionKind ?? ''),
      );
      assert.deepEqual(counted, [], entry.name);
    }
  });
});
