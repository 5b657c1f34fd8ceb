import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StoreUnavailableError } from '../errors.ts';
import { storeConformance } from '../testing/store-conformance.ts';
import { makeSession, makeUser } from '../testing/store-fixtures.ts';
import { createSqliteStore, SQLITE_SCHEMA_VERSION } from './sqlite-store.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/rotate-race.ts', import.meta.url));

async function tempDir(): Promise<{ dir: string; path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-sqlite-'));
  // A nested path: the store creates missing parent directories.
  return {
    dir,
    path: join(dir, 'data', 'tessera.db'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

storeConformance('sqlite', async () => {
  const { path, cleanup } = await tempDir();
  return { store: createSqliteStore({ path }), reopen: async () => createSqliteStore({ path }), cleanup };
});

storeConformance('sqlite :memory:', async () => ({
  store: createSqliteStore({ path: ':memory:' }),
  cleanup: async () => {},
}));

/** Runs one fixture process per argument list, releases them together, returns their JSON answers. */
async function race(argLists: string[][]): Promise<unknown[]> {
  const children: ChildProcessWithoutNullStreams[] = argLists.map((args) =>
    spawn(process.execPath, ['--conditions=@tessera/source', FIXTURE, ...args], { stdio: 'pipe' }),
  );
  const stderr = children.map(() => ({ text: '' }));
  const exits = children.map((child, i) => {
    child.stderr.on('data', (chunk: Buffer) => {
      (stderr[i] as { text: string }).text += chunk.toString();
    });
    return once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  });
  const lines = children.map((child) => createInterface({ input: child.stdout })[Symbol.asyncIterator]());
  const nextLine = async (i: number): Promise<string> => {
    const { value, done } = await (lines[i] as AsyncIterator<string>).next();
    if (done) throw new Error(`child ${i} ended early: ${stderr[i]?.text}`);
    return value;
  };
  try {
    assert.deepEqual(
      await Promise.all(children.map((_, i) => nextLine(i))),
      children.map(() => 'ready'),
    );
    for (const child of children) child.stdin.write('go\n');
    const answers = await Promise.all(children.map(async (_, i) => JSON.parse(await nextLine(i)) as unknown));
    const codes = (await Promise.all(exits)).map(([code]) => code);
    assert.deepEqual(
      codes,
      children.map(() => 0),
      stderr.map((s) => s.text).join('\n'),
    );
    return answers;
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill();
  }
}

describe('sqlite store across processes', { timeout: 20_000 }, () => {
  it('lets exactly one of four processes rotate a session from the same generation', async () => {
    const { path, cleanup } = await tempDir();
    try {
      const store = createSqliteStore({ path });
      const user = makeUser();
      await store.createUser(user);
      const session = makeSession(user.id);
      await store.createSession(session);
      await store.close();
      const labels = ['p0', 'p1', 'p2', 'p3'];
      const answers = (await race(labels.map((label) => [path, session.id, label]))) as Array<{
        wins: number;
      }>;
      const winners = labels.filter((_, i) => answers[i]?.wins === 1);
      assert.deepEqual(answers.map((a) => a.wins).sort(), [0, 0, 0, 1]);
      const again = createSqliteStore({ path });
      const row = await again.findSession(session.id);
      await again.close();
      assert.equal(row?.generation, 2);
      assert.equal(row?.ip, winners[0], 'the stored row is the winner’s write');
    } finally {
      await cleanup();
    }
  });

  it('migrates a new file once when four processes open it at the same time', async () => {
    const { path, cleanup } = await tempDir();
    try {
      const answers = await race([[path], [path], [path], [path]]);
      assert.deepEqual(
        answers,
        Array.from({ length: 4 }, () => ({ opened: true })),
      );
      const db = new DatabaseSync(path, { readOnly: true });
      assert.equal(db.prepare('PRAGMA user_version').get()?.user_version, SQLITE_SCHEMA_VERSION);
      assert.equal(db.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
      db.close();
    } finally {
      await cleanup();
    }
  });
});

describe('sqlite store specifics', () => {
  it('answers StoreUnavailableError when another connection holds the write lock past the busy timeout', async () => {
    const { path, cleanup } = await tempDir();
    const store = createSqliteStore({ path, busyTimeoutMs: 50 });
    const holder = new DatabaseSync(path);
    try {
      holder.exec('BEGIN IMMEDIATE');
      const user = makeUser();
      await assert.rejects(store.createUser(user), StoreUnavailableError);
      await assert.rejects(
        store.rotateSession('any', 1, { nowMs: 1, idleExpiresAtMs: 2, ip: null, userAgent: null }),
        {
          code: 'service_unavailable',
        },
      );
      holder.exec('ROLLBACK');
      assert.equal(await store.findUserById(user.id), null, 'the failed write left nothing');
      assert.equal(await store.createUser(user), 'created');
    } finally {
      holder.close();
      await store.close();
      await cleanup();
    }
  });

  it('commits rotations still queued at close, then refuses work with StoreUnavailableError', async () => {
    const { path, cleanup } = await tempDir();
    try {
      const store = createSqliteStore({ path });
      const user = makeUser();
      await store.createUser(user);
      const session = makeSession(user.id);
      await store.createSession(session);
      const update = {
        nowMs: session.createdAtMs + 1,
        idleExpiresAtMs: session.createdAtMs + 2,
        ip: null,
        userAgent: null,
      };
      const pending = store.rotateSession(session.id, 1, update);
      await store.close();
      assert.equal((await pending)?.generation, 2);
      await assert.rejects(store.findSession(session.id), StoreUnavailableError);
      await assert.rejects(store.rotateSession(session.id, 2, update), StoreUnavailableError);
      const again = createSqliteStore({ path });
      assert.equal((await again.findSession(session.id))?.generation, 2);
      await again.close();
    } finally {
      await cleanup();
    }
  });

  it('upgrades a version-1 file that lacks users_updated_idx, and refuses a newer schema', async () => {
    const { path, cleanup } = await tempDir();
    try {
      await createSqliteStore({ path }).close();
      const db = new DatabaseSync(path);
      // Back to what version 1 files looked like: no users_updated_idx, none of the later columns.
      db.exec(`DROP INDEX users_updated_idx; DROP INDEX users_version_changed_idx;
        ALTER TABLE users DROP COLUMN token_version_changed_at; PRAGMA user_version = 1;`);
      db.close();
      await createSqliteStore({ path }).close();
      const check = new DatabaseSync(path);
      const index = check.prepare("SELECT name FROM sqlite_schema WHERE name = 'users_updated_idx'").get();
      assert.equal(index?.name, 'users_updated_idx');
      assert.equal(check.prepare('PRAGMA user_version').get()?.user_version, SQLITE_SCHEMA_VERSION);
      check.exec(`PRAGMA user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
      check.close();
      assert.throws(() => createSqliteStore({ path }), /newer than this Tessera/);
      const after = new DatabaseSync(path, { readOnly: true });
      assert.equal(after.prepare('PRAGMA user_version').get()?.user_version, SQLITE_SCHEMA_VERSION + 1);
      after.close();
    } finally {
      await cleanup();
    }
  });

  it('fails to open an unreachable file with StoreUnavailableError', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      // A directory where the database file should be: SQLite cannot open it.
      assert.throws(() => createSqliteStore({ path: dir }), StoreUnavailableError);
    } finally {
      await cleanup();
    }
  });
});
