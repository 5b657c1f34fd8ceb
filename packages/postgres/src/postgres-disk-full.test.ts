// The PostgreSQL store when its disk is full: its tables live in a tablespace on a small tmpfs the
// test mounts (PostgreSQL answers 53100 disk_full when a table cannot grow). Needs root, the local
// PostgreSQL server and its `postgres` OS user; outside CI it skips with a reason, under CI=true it fails.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { describe, it } from 'node:test';
import { StorageFullError, type Store } from '@tessera/core';
import { fillDisk, makeEvent, makeSession, makeUser, mountTmpfs, unmountTmpfs } from '@tessera/core/testing';
import { createPostgresStore } from './postgres-store.ts';
import { adminQuery, testPostgresProblem, TEST_POSTGRES_URL as URL } from './test-server.ts';

const problem = await testPostgresProblem();

describe('postgres store on a full disk', { timeout: 60_000 }, () => {
  it('rejects a write that cannot get space with StorageFullError, keeps nothing of it, and recovers', async (t) => {
    const mounted = problem === null ? mountTmpfs({ size: '4m', owner: 'postgres' }) : { problem };
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
      await adminQuery(`CREATE TABLESPACE ${tablespace} LOCATION '${dir}'`);
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
        await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
        await adminQuery(`DROP TABLESPACE IF EXISTS ${tablespace}`).catch(() => undefined);
      }
      unmountTmpfs(dir);
    }
  });
});
