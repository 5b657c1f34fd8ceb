// The SQLite store on a real full disk (a small tmpfs mounted for the test): no write may be
// reported done that was not made (issue 10, finding 1). Needs root to mount; outside CI it skips
// with a reason when mounting is refused, under CI=true it fails.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { StorageFullError } from '../errors.ts';
import { fillDisk, mountTmpfs, unmountTmpfs } from '../testing/disk-full.ts';
import {
  makeEvent,
  makeIdentity,
  makeOneTimeToken,
  makeSession,
  makeSigningKey,
  makeUser,
  rotation,
  T0,
} from '../testing/store-fixtures.ts';
import { createSqliteStore } from './sqlite-store.ts';
import type { Store } from './store.ts';

const HOUR = 3_600_000;

/** Every row of every table, read through a connection of its own: the whole stored state. */
function dump(path: string): Record<string, unknown[]> {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const tables = db
      .prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all()
      .map((row) => row.name as string);
    return Object.fromEntries(
      tables.map((table) => [table, db.prepare(`SELECT * FROM "${table}" ORDER BY rowid`).all()]),
    );
  } finally {
    db.close();
  }
}

describe('sqlite store on a full disk', { timeout: 60_000 }, () => {
  it('rejects every write with StorageFullError, changes nothing, keeps reading, and recovers without reopening', async (t) => {
    const mounted = mountTmpfs({ size: '4m' });
    if ('problem' in mounted) {
      if (process.env.CI === 'true') throw new Error(`CI requires the disk-full test: ${mounted.problem}`);
      process.stdout.write(`# skipped: ${mounted.problem}\n`);
      t.skip(mounted.problem);
      return;
    }
    const { dir } = mounted;
    const path = join(dir, 'tessera.db');
    let store: Store | null = null;
    try {
      store = createSqliteStore({ path });
      const open: Store = store;
      // Seed a state in which every write below would change something.
      const ada = makeUser({ totpPendingSecret: 'enc:pending', email: 'ada@example.com' });
      const bob = makeUser();
      const [live, rotating, stepUp, old] = [
        makeSession(ada.id),
        makeSession(ada.id),
        makeSession(ada.id),
        makeSession(ada.id, { createdAtMs: T0 - 48 * HOUR }),
      ];
      const identity = makeIdentity();
      const token = makeOneTimeToken(ada.id, { kind: 'magic_link' });
      const [claimable, leased, dead] = [makeEvent(), makeEvent(), makeEvent()];
      const key = makeSigningKey(T0);
      await open.createUser(ada, { session: live, identity });
      await open.createUser(bob);
      for (const session of [rotating, stepUp, old]) await open.createSession(session);
      await open.setRecoveryCodes(ada.id, ['code-1', 'code-2'], { confirmTotp: false, atMs: T0 });
      await open.createOneTimeToken(token);
      await open.appendOutbox([leased, dead]);
      await open.claimOutbox(T0, 10, HOUR, 'worker');
      await open.finishOutboxAttempt(dead.id, 'worker', {
        delivered: false,
        atMs: T0,
        nextAttemptAtMs: null,
        error: 'HTTP 500',
      });
      await open.appendOutbox([claimable]);
      await open.addSigningKey(key);

      const writes: Record<string, (s: Store) => Promise<unknown>> = {
        createUser: (s) => s.createUser(makeUser(), { session: makeSession(bob.id) }),
        updateUser: (s) => s.updateUser(ada.id, { roles: ['admin'], updatedAtMs: T0 + 1 }),
        acceptTotpStep: (s) => s.acceptTotpStep(ada.id, 42),
        setRecoveryCodes: (s) => s.setRecoveryCodes(ada.id, ['code-3'], { confirmTotp: true, atMs: T0 + 1 }),
        useRecoveryCode: (s) => s.useRecoveryCode(ada.id, 'code-1', T0 + 1),
        linkIdentity: (s) => s.linkIdentity(bob.id, makeIdentity(), T0 + 1),
        unlinkIdentity: (s) => s.unlinkIdentity(ada.id, identity),
        createSession: (s) => s.createSession(makeSession(bob.id), { deviceFingerprint: 'laptop' }),
        rotateSession: (s) => s.rotateSession(rotating.id, 1, rotation(T0 + 1)),
        rotateSessionInOneStep: (s) =>
          (s.rotateSessionInOneStep as NonNullable<Store['rotateSessionInOneStep']>)(rotating.id, 1, {
            nowMs: T0 + 1,
            idleTtlMs: HOUR,
            maxLoginAgeMs: 0,
            ip: null,
            userAgent: null,
          }),
        updateSessionAuth: (s) =>
          s.updateSessionAuth(stepUp.id, { authTimeMs: T0 + 1, amr: ['otp'], acr: null }),
        revokeSession: (s) => s.revokeSession(live.id, T0 + 1, 'logout'),
        revokeUserSessions: (s) => s.revokeUserSessions(ada.id, T0 + 1, 'logout_all'),
        changePassword: (s) => s.changePassword(ada.id, 'new-hash', null, T0 + 1),
        emergencyRevokeAll: (s) => s.emergencyRevokeAll(T0 + 1),
        sweepSessions: (s) => s.sweepSessions(T0, 100),
        createOneTimeToken: (s) => s.createOneTimeToken(makeOneTimeToken(ada.id, { kind: 'password_reset' })),
        redeemOneTimeToken: (s) => s.redeemOneTimeToken(token.tokenHash, 'magic_link', T0 + 1),
        appendOutbox: (s) => s.appendOutbox([makeEvent()]),
        claimOutbox: (s) => s.claimOutbox(T0, 10, HOUR, 'other'),
        finishOutboxAttempt: (s) =>
          s.finishOutboxAttempt(leased.id, 'worker', { delivered: true, atMs: T0 + 1 }),
        replayOutbox: (s) => s.replayOutbox(dead.id, T0 + 1),
        addSigningKey: (s) => s.addSigningKey(makeSigningKey(T0 + 1)),
        deleteSigningKey: (s) => s.deleteSigningKey(key.kid),
        ping: (s) => s.ping({ write: true }),
      };
      const reads: Record<string, (s: Store) => Promise<unknown>> = {
        findUserById: (s) => s.findUserById(ada.id),
        findUserByEmail: (s) => s.findUserByEmail('ada@example.com'),
        listUsers: (s) => s.listUsers(null, 10),
        countRecoveryCodes: (s) => s.countRecoveryCodes(ada.id),
        findUserByIdentity: (s) => s.findUserByIdentity(identity),
        listIdentities: (s) => s.listIdentities(ada.id),
        findSession: (s) => s.findSession(live.id),
        findSessionWithUser: (s) =>
          (s.findSessionWithUser as NonNullable<Store['findSessionWithUser']>)(live.id),
        listLiveSessions: (s) => s.listLiveSessions(ada.id, T0),
        getGlobalNotBeforeMs: (s) => s.getGlobalNotBeforeMs(),
        listRevokedSince: (s) => s.listRevokedSince(0, 10),
        listUsersUpdatedSince: (s) => s.listUsersUpdatedSince(0, 10),
        listOutbox: (s) => s.listOutbox('pending', 10),
        listSigningKeys: (s) => s.listSigningKeys(),
        ping: (s) => s.ping(),
      };
      // The class, not the instance: a method added to the store must be listed here as a read or a write.
      const methods = Object.keys(open).filter((name) => name !== 'capabilities' && name !== 'close');
      assert.deepEqual(methods.sort(), [...new Set([...Object.keys(writes), ...Object.keys(reads)])].sort());

      const readAll = async () =>
        Object.fromEntries(
          await Promise.all(Object.entries(reads).map(async ([n, read]) => [n, await read(open)])),
        );
      const before = dump(path);
      const readsBefore = await readAll();

      const filler = fillDisk(dir);
      for (const [name, write] of Object.entries(writes)) {
        await assert.rejects(write(open), StorageFullError, `${name} on a full disk`);
      }
      await assert.rejects(
        Promise.all([
          open.rotateSession(rotating.id, 1, rotation(T0 + 2)),
          open.rotateSession(stepUp.id, 1, rotation(T0 + 2)),
        ]),
        StorageFullError,
        'a group commit fails whole',
      );
      assert.deepEqual(dump(path), before, 'nothing of any failed write was stored');
      assert.deepEqual(await readAll(), readsBefore, 'reads keep working and see the same data');

      await rm(filler);
      const done: Record<string, unknown> = {};
      for (const [name, write] of Object.entries(writes)) done[name] = await write(open);
      assert.equal(done.createUser, 'created');
      assert.deepEqual((done.updateUser as { roles: string[] }).roles, ['admin']);
      assert.equal(done.acceptTotpStep, true);
      assert.equal((done.rotateSession as { generation: number }).generation, 2);
      assert.equal((done.revokeSession as { id: string }).id, live.id);
      assert.equal((done.redeemOneTimeToken as { status: string }).status, 'redeemed');
      assert.equal(done.replayOutbox, true);
      assert.notDeepEqual(dump(path), before, 'the same writes are stored once there is room');

      // Closing on a full disk: a rotation still queued is rejected, not reported done.
      const last = makeSession(bob.id, { createdAtMs: T0 + 10 });
      await open.createSession(last);
      const settled = dump(path);
      const again = fillDisk(dir);
      const queued = open.rotateSession(last.id, 1, rotation(T0 + 11));
      await open.close();
      await assert.rejects(queued, StorageFullError);
      await rm(again);
      store = createSqliteStore({ path });
      assert.deepEqual(await store.findSession(last.id), last);
      assert.deepEqual(dump(path), settled);
    } finally {
      await store?.close().catch(() => undefined);
      unmountTmpfs(dir);
    }
  });
});
