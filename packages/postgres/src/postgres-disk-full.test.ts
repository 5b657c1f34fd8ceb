// The PostgreSQL store when its disk is full: its tables live in a tablespace on a small tmpfs the
// test mounts (PostgreSQL answers 53100 disk_full when a table cannot grow). Needs root, the local
// PostgreSQL server and its `postgres` OS user; outside CI it skips with a reason, under CI=true it fails.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { StorageFullError, type Store } from '@tessera/core';
import { makeEvent, makeSession, makeUser } from '@tessera/core/testing';
import pg from 'pg';
import { createPostgresStore } from './postgres-store.ts';

const URL = process.env.TESSERA_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function reachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

const available = await reachable();

/** Mounts a tmpfs owned by the `postgres` user; the reason it cannot, or the directory. */
function mountForPostgres(): { dir: string } | { problem: string } {
  if (!available) return { problem: `PostgreSQL is not reachable at ${URL}` };
  if (process.getuid?.() !== 0) return { problem: 'mounting a tmpfs needs root' };
  let owner: string;
  try {
    owner = `uid=${execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()},gid=${execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()}`;
  } catch {
    return { problem: 'there is no postgres user on this machine (the server is not local)' };
  }
  const dir = mkdtempSync(join(tmpdir(), 'tessera-pg-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=4m,mode=0700,${owner}`, 'tmpfs', dir], {
      stdio: 'pipe',
    });
    return { dir };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    const detail = (error as { stderr?: Buffer }).stderr?.toString().trim() || String(error);
    return { problem: `mounting a tmpfs was refused (${detail})` };
  }
}

/** Fills the file system holding `dir` to the last byte; returns the filler's path. */
function fillDisk(dir: string): string {
  const path = join(dir, 'filler');
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

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('postgres store on a full disk', { timeout: 60_000 }, () => {
  it('rejects a write that cannot get space with StorageFullError, keeps nothing of it, and recovers', async (t) => {
    const mounted = mountForPostgres();
    if ('problem' in mounted) {
      if (process.env.CI === 'true') throw new Error(`CI requires the disk-full test: ${mounted.problem}`);
      process.stdout.write(`# skipped: ${mounted.problem}\n`);
      t.skip(mounted.problem);
      return;
    }
    const { dir } = mounted;
    const suffix = randomBytes(6).toString('hex');
    const tablespace = `tessera_full_${suffix}`;
    const schema = `disk_full_${suffix}`;
    let store: Store | null = null;
    let created = false;
    try {
      await admin(`CREATE TABLESPACE ${tablespace} LOCATION '${dir}'`);
      created = true;
      // Every table and index the migrations create lands in the tablespace on the tmpfs.
      const options = encodeURIComponent(`-c default_tablespace=${tablespace}`);
      store = await createPostgresStore({ connectionString: `${URL}?options=${options}`, schema });
      const open = store;
      const first = makeUser();
      assert.equal(await open.createUser(first, { session: makeSession(first.id) }), 'created');

      const filler = fillDisk(dir);
      const stored: string[] = [];
      let failure: unknown = null;
      let failed: { userId: string; sessionId: string } | null = null;
      // Rows fit in the tables' last pages for a while; the first write that needs a new page fails.
      for (let i = 0; i < 2000 && failure === null; i += 1) {
        const user = makeUser({ profile: { bio: 'x'.repeat(1000) } });
        const session = makeSession(user.id, { userAgent: 'y'.repeat(1000) });
        try {
          await open.createUser(user, {
            session,
            emit: () => [makeEvent({ data: { pad: 'z'.repeat(1000) } })],
          });
          stored.push(user.id);
        } catch (error) {
          failure = error;
          failed = { userId: user.id, sessionId: session.id };
        }
      }
      assert.ok(failure instanceof StorageFullError, `expected StorageFullError, got ${String(failure)}`);
      assert.equal((failure as StorageFullError).code, 'storage_full');
      assert.equal((failure as { cause?: { code?: string } }).cause?.code, '53100');
      assert.equal(await open.findUserById(failed?.userId ?? ''), null, 'no user of the failed write');
      assert.equal(await open.findSession(failed?.sessionId ?? ''), null, 'no session of the failed write');
      for (const id of [first.id, ...stored])
        assert.ok(await open.findUserById(id), 'earlier writes are intact');
      await open.ping();

      rmSync(filler);
      const after = makeUser();
      assert.equal(await open.createUser(after, { session: makeSession(after.id) }), 'created');
    } finally {
      await store?.close();
      if (created) {
        await admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
        await admin(`DROP TABLESPACE IF EXISTS ${tablespace}`).catch(() => undefined);
      }
      execFileSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
