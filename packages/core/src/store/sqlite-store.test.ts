import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StoreUnavailableError } from '../errors.ts';
import { storeConformance } from '../testing/store-conformance.ts';
import { makeSession, makeUser } from '../testing/store-fixtures.ts';
import { spawnStorePeer } from '../testing/store-peer.ts';
import { MIGRATIONS } from './sqlite-migrations.ts';
import { createSqliteStore, SQLITE_SCHEMA_VERSION } from './sqlite-store.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/open-race.ts', import.meta.url));

async function tempDir(): Promise<{ dir: string; path: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-sqlite-'));
  // A nested path: the store creates missing parent directories.
  return {
    dir,
    path: join(dir, 'data', 'tessera.db'),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

const SQLITE_MODULE = new URL('./sqlite-store.ts', import.meta.url).href;

// Peers are child processes sharing the file: the suite's races then run across four processes.
storeConformance('sqlite', async () => {
  const { path, cleanup } = await tempDir();
  return {
    store: createSqliteStore({ path }),
    reopen: async () => createSqliteStore({ path }),
    peers: (count) =>
      Promise.all(
        Array.from({ length: count }, () => spawnStorePeer(SQLITE_MODULE, 'createSqliteStore', { path })),
      ),
    cleanup,
  };
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

  for (const version of [1, 2, 3]) {
    it(`upgrades a version-${version} file with its users and sessions intact`, async () => {
      const { path, cleanup } = await tempDir();
      try {
        await createSqliteStore({ path: join(dirname(path), 'warm-up.db') }).close();
        const db = new DatabaseSync(path);
        for (const sql of MIGRATIONS.slice(0, version)) db.exec(sql);
        db.exec(`PRAGMA user_version = ${version};
          INSERT INTO users (id, email, password_hash, token_version, roles, profile, disabled, reauth_required,
            totp_secret, created_at, updated_at)
          VALUES ('u1', 'ada@example.com', 'hash', 2, '["admin"]', '{"name":"Ada"}', 0, 1, 'enc:totp', 10, 20);
          INSERT INTO sessions (id, user_id, created_at, auth_time, last_seen_at, idle_expires_at,
            absolute_expires_at, ip, user_agent, device_name, amr, generation, rotated_at, salt)
          VALUES ('s1', 'u1', 10, 10, 10, 1000, 2000, '203.0.113.7', 'agent', 'Laptop', '["pwd"]', 3, 15, 'salt');`);
        db.close();
        const store = createSqliteStore({ path });
        try {
          assert.deepEqual(await store.findUserByEmail('ada@example.com'), {
            id: 'u1',
            email: 'ada@example.com',
            emailVerified: false,
            passwordHash: 'hash',
            tokenVersion: 2,
            // Version 3 filled it from updated_at for users whose version had been bumped.
            tokenVersionChangedAtMs: version < 3 ? 20 : null,
            roles: ['admin'],
            profile: { name: 'Ada' },
            disabled: false,
            reauthRequired: true,
            totpSecret: 'enc:totp',
            totpPendingSecret: null,
            totpLastStep: null,
            createdAtMs: 10,
            updatedAtMs: 20,
          });
          // Rebuilding users must not cascade to sessions (foreign keys are off while it runs).
          const session = await store.findSession('s1');
          assert.equal(session?.generation, 3);
          assert.equal(session?.acr, null);
          assert.equal(session?.dpopJkt, null);
          assert.equal(await store.createUser(makeUser({ email: null, passwordHash: null })), 'created');
        } finally {
          await store.close();
        }
        const check = new DatabaseSync(path, { readOnly: true });
        assert.equal(check.prepare('PRAGMA user_version').get()?.user_version, SQLITE_SCHEMA_VERSION);
        assert.equal(check.prepare('PRAGMA foreign_key_check').get(), undefined);
        const indexes = check
          .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name",
          )
          .all()
          .map((row) => row.name);
        const fresh = new DatabaseSync(join(dirname(path), 'warm-up.db'), { readOnly: true });
        const expected = fresh
          .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name",
          )
          .all()
          .map((row) => row.name);
        fresh.close();
        check.close();
        assert.deepEqual(indexes, expected, 'an upgraded file has the indexes of a new one');
      } finally {
        await cleanup();
      }
    });
  }

  it('refuses a file at a newer schema version, changing nothing', async () => {
    const { path, cleanup } = await tempDir();
    try {
      await createSqliteStore({ path }).close();
      const db = new DatabaseSync(path);
      db.exec(`PRAGMA user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
      db.close();
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
