import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from './helpers/child-server.ts';
import { runTessera } from './helpers/cli.ts';
import { sharedPostgresProblem, skipReason } from './helpers/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'tessera-cli-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const SECRET = Buffer.alloc(32, 7).toString('base64url');

/** Runs `tessera migrate` and `tessera start` with `env`; both must refuse the same way. */
async function bothRefuse(env: Record<string, string>, code: number) {
  const migrate = await runTessera(['migrate'], { TESSERA_LOG_FORMAT: 'json', ...env });
  const start = await runTessera(['start'], { TESSERA_PORT: '0', TESSERA_LOG_FORMAT: 'json', ...env });
  assert.equal(migrate.code, code, migrate.stderr);
  assert.equal(start.code, code, start.stderr);
  assert.equal(start.stdout, '', 'the server never said it was running');
  // `start` reports in the log's format: one JSON error line.
  const lines = start.stderr.trim().split('\n');
  assert.equal(lines.length, 1, start.stderr);
  const entry = JSON.parse(lines[0] as string) as { level: string; msg: string; setting: string };
  assert.equal(entry.level, 'error');
  assert.doesNotMatch(migrate.stderr, /\n\s+at /, 'no stack trace');
  return { migrate: migrate.stderr, start: entry };
}

describe('start-up errors name the setting, the path or host, and what to check', () => {
  it('a database path that is not a database', async () => {
    const file = join(dir, 'notes.txt');
    writeFileSync(file, 'these are my notes, not a database\n'.repeat(100));
    const { migrate, start } = await bothRefuse(
      { TESSERA_DATABASE_URL: `sqlite:${file}`, TESSERA_DATA_DIR: join(dir, 'data1') },
      78,
    );
    for (const text of [migrate, start.msg]) {
      assert.match(text, /TESSERA_DATABASE_URL: /);
      assert.ok(text.includes(`${file} is not an SQLite database`), text);
      assert.match(text, /move that file away/);
    }
    assert.equal(start.setting, 'TESSERA_DATABASE_URL');

    // The default file inside TESSERA_DATA_DIR: the message names that setting.
    const dataDir = join(dir, 'data2');
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'tessera.db'), 'x'.repeat(4096));
    const byDefault = await bothRefuse({ TESSERA_DATA_DIR: dataDir }, 78);
    assert.match(byDefault.migrate, /TESSERA_DATA_DIR: .*tessera\.db is not an SQLite database/);
  });

  it('a data directory that cannot be created', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'in the way');
    const { migrate, start } = await bothRefuse({ TESSERA_DATA_DIR: join(file, 'data') }, 78);
    for (const text of [migrate, start.msg]) {
      assert.match(text, /TESSERA_DATA_DIR: cannot create the directory /);
      assert.ok(text.includes(join(file, 'data')), text);
      assert.match(text, /a part of the path is a file, not a directory \(ENOTDIR\)/);
      assert.match(text, /Set TESSERA_DATA_DIR to a directory Tessera may create and write/);
    }
    // An explicit database path is named as TESSERA_DATABASE_URL.
    const explicit = await bothRefuse(
      { TESSERA_DATABASE_URL: `sqlite:${join(file, 'db', 'x.db')}`, TESSERA_SECRET: SECRET },
      78,
    );
    assert.match(
      explicit.migrate,
      /TESSERA_DATABASE_URL: cannot create the directory .*\(ENOTDIR\)\. Point TESSERA_DATABASE_URL at a file/,
    );
    // The database is elsewhere but the generated secret needs the data directory (migrate needs no secret).
    const env = {
      TESSERA_DATABASE_URL: `sqlite:${join(dir, 'ok.db')}`,
      TESSERA_DATA_DIR: join(file, 'data'),
    };
    const started = await runTessera(['start'], { TESSERA_PORT: '0', ...env });
    const list = await runTessera(['user', 'list'], env);
    for (const run of [started, list]) {
      assert.equal(run.code, 78, run.stderr);
      assert.match(
        run.stderr,
        /TESSERA_DATA_DIR: cannot read the secret file .*\(ENOTDIR\).*or set TESSERA_SECRET/,
      );
    }
  });

  it('an unreachable PostgreSQL, without the password', async () => {
    const port = await freePort();
    const url = `postgres://tessera:Sup3rS3cretPw@127.0.0.1:${port}/tessera`;
    const { migrate, start } = await bothRefuse({ TESSERA_DATABASE_URL: url, TESSERA_SECRET: SECRET }, 69);
    for (const text of [migrate, start.msg]) {
      assert.match(text, /TESSERA_DATABASE_URL: cannot connect to PostgreSQL at 127\.0\.0\.1:\d+/);
      assert.ok(text.includes(`127.0.0.1:${port}`), text);
      assert.match(text, /is PostgreSQL running there/);
      assert.match(text, /ECONNREFUSED/);
      assert.ok(!text.includes('Sup3rS3cretPw'), 'never the password');
    }
  });

  it('a PostgreSQL URL option that is not a positive whole number, before connecting', async () => {
    const url = 'postgres://tessera:Sup3rS3cretPw@127.0.0.1:1/tessera?sslmode=disable&rotation_batch_size=0';
    const { migrate, start } = await bothRefuse({ TESSERA_DATABASE_URL: url, TESSERA_SECRET: SECRET }, 78);
    for (const text of [migrate, start.msg]) {
      assert.match(
        text,
        /TESSERA_DATABASE_URL: \?rotation_batch_size= must be a positive whole number \(got "0"\)/,
      );
      assert.ok(!text.includes('Sup3rS3cretPw'), 'never the password');
    }
  });

  it('a port another process holds', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as AddressInfo).port;
    try {
      const run = await runTessera(['start'], {
        TESSERA_PORT: String(port),
        TESSERA_DATA_DIR: join(dir, 'port'),
        TESSERA_LOG_FORMAT: 'json',
      });
      assert.equal(run.code, 78, run.stderr);
      // After the generated-secret warning: the error, in the same format.
      const entry = JSON.parse(run.stderr.trim().split('\n').at(-1) as string) as {
        msg: string;
        setting: string;
      };
      assert.equal(entry.setting, 'TESSERA_PORT');
      assert.ok(entry.msg.includes(`127.0.0.1:${port} is in use by another process (EADDRINUSE)`), entry.msg);
    } finally {
      holder.close();
    }
  });

  it('a PostgreSQL database that does not exist', { skip: skipReason(sharedPostgresProblem()) }, async () => {
    const url = 'postgres://postgres:NotThePassword1@127.0.0.1:5432/tessera_no_such_database';
    const { migrate } = await bothRefuse({ TESSERA_DATABASE_URL: url, TESSERA_SECRET: SECRET }, 78);
    assert.match(migrate, /PostgreSQL at 127\.0\.0\.1:5432 has no database "tessera_no_such_database"/);
    assert.ok(!migrate.includes('NotThePassword1'));
  });
});

describe('an old Node', () => {
  const packageJson = fileURLToPath(new URL('../packages/standalone/package.json', import.meta.url));
  const { engines } = JSON.parse(readFileSync(packageJson, 'utf8')) as {
    engines: { node: string };
  };

  it('gets the Node version it needs, before anything that needs a newer one is loaded', async () => {
    // Pretend to be Node 20, and make loading node:sqlite (what crashed before) fail loudly.
    const preload = join(dir, 'pretend-node-20.mjs');
    writeFileSync(
      preload,
      `import * as module from 'node:module';
Object.defineProperty(process.versions, 'node', { value: '20.11.0' });
const refuse = (specifier) => {
  if (specifier === 'node:sqlite') throw new Error('node:sqlite was loaded');
};
if (module.registerHooks) {
  module.registerHooks({
    resolve(specifier, context, next) {
      refuse(specifier);
      return next(specifier, context);
    },
  });
} else {
  // Node 22.13 (the lowest in engines) has only the asynchronous hooks.
  const hooks = 'export async function resolve(specifier, context, next) {' +
    " if (specifier === 'node:sqlite') throw new Error('node:sqlite was loaded');" +
    ' return next(specifier, context); }';
  module.register('data:text/javascript,' + encodeURIComponent(hooks));
}
`,
    );
    const run = await runTessera(
      ['start'],
      { TESSERA_DATA_DIR: join(dir, 'old-node') },
      {
        nodeArgs: ['--conditions=@tessera/source', '--import', preload],
      },
    );
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.ok(run.stderr.startsWith(`tessera needs Node.js ${engines.node}`), run.stderr);
    assert.match(run.stderr, /this is Node\.js 20\.11\.0/);
    assert.match(run.stderr, /https:\/\/nodejs\.org/);
    assert.doesNotMatch(run.stderr, /node:sqlite was loaded|\n\s+at /);
    assert.equal(existsSync(join(dir, 'old-node')), false, 'nothing was created');
  });

  it('the built bin on a real older Node (the system node, when it is older)', async (t) => {
    const bin = fileURLToPath(new URL('../packages/standalone/dist/bin/tessera.js', import.meta.url));
    let version = '';
    try {
      version = execFileSync('/usr/bin/node', ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      // No system node.
    }
    const major = Number(/^v(\d+)/.exec(version)?.[1] ?? 0);
    if (!existsSync(bin) || major === 0 || major >= 22) {
      t.skip(`needs the built bin (tsc --build) and an older /usr/bin/node (found ${version || 'none'})`);
      return;
    }
    const run = await runTessera(['--help'], {}, { node: '/usr/bin/node', nodeArgs: [], bin });
    assert.equal(run.code, 1);
    assert.ok(run.stderr.startsWith(`tessera needs Node.js ${engines.node}`), run.stderr);
    assert.ok(run.stderr.includes(`this is Node.js ${version.slice(1)}`), run.stderr);
  });
});
