import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, it } from 'node:test';
import { type ChildServer, freePort, startChildServer } from '../helpers/child-server.ts';
import { PASSWORD } from '../helpers/server.ts';
import { skipReason } from '../helpers/services.ts';
import { type Answer, ask, describeAnswer, isTessera503 } from './http-probe.ts';
import { registerClients } from './refresh-load.ts';
import { terminate } from './terminate.ts';
import { mountTmpfs, type Tmpfs, tmpfsProblem } from './tmpfs.ts';

/**
 * Empties the write-ahead log into the database and truncates it to zero bytes, so the server's next
 * write must allocate new blocks (a WAL that once grew is reused in place and would not feel a full
 * disk until it outgrew itself: this makes the first write after the fill the one that fails).
 */
function truncateWal(dbPath: string): void {
  const db = new DatabaseSync(dbPath, { timeout: 5000 });
  try {
    const result = db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get();
    assert.equal(result?.busy, 0, 'the checkpoint ran');
  } finally {
    db.close();
  }
  assert.equal(statSync(`${dbPath}-wal`).size, 0);
}

/** Collects failed expectations, so one run names every broken promise, not only the first. */
function expectations() {
  const problems: string[] = [];
  return {
    problems,
    expect(ok: boolean, what: string, answer?: Answer) {
      if (!ok) problems.push(answer ? `${what}: got ${describeAnswer(answer)}` : what);
    },
  };
}

describe('fault: the SQLite disk is full', { skip: skipReason(tmpfsProblem()) }, () => {
  it('acknowledges no write it did not make, keeps serving reads, reports it, recovers without a restart', {
    timeout: 60_000,
  }, async (t) => {
    const disk: Tmpfs = mountTmpfs(8);
    let server: ChildServer | undefined;
    try {
      server = await startChildServer({
        TESSERA_PORT: String(await freePort()),
        TESSERA_DATA_DIR: disk.dir,
        TESSERA_SECRET: randomBytes(32).toString('base64url'),
        TESSERA_RATE_LIMIT: 'off',
        // No grace: if a refused refresh had secretly rotated, presenting its token again later is
        // reuse and ends the session, so "the old token still works" proves nothing was written.
        TESSERA_REUSE_GRACE: '0s',
      });
      const { url } = server;
      const pid = server.child.pid;
      const [alice, bob, carol, dave] = await registerClients([url], 4);
      assert.ok(alice && bob && carol && dave);
      const newcomer = `newcomer-${randomBytes(4).toString('hex')}@example.com`;
      const profileBefore = (await ask(url, 'GET', '/auth/me', { token: carol.accessToken })).body;

      truncateWal(join(disk.dir, 'tessera.db'));
      const filled = disk.fill();
      t.diagnostic(`filled ${filled} bytes; ${disk.available()} bytes left`);

      const { problems, expect } = expectations();
      // Every write is refused as storage_full (503, Retry-After), and none of them happened.
      const writes: Array<[string, string, Parameters<typeof ask>[3]]> = [
        ['POST', '/auth/logout', { json: { refresh_token: alice.acknowledged } }],
        ['POST', '/auth/refresh', { json: { refresh_token: bob.acknowledged } }],
        ['POST', '/auth/logout-all', { token: dave.accessToken }],
        ['PATCH', '/auth/me', { token: carol.accessToken, json: { name: 'Carol Changed' } }],
        ['POST', '/auth/register', { json: { email: newcomer, password: PASSWORD }, deadlineMs: 20_000 }],
      ];
      for (const [method, path, options] of writes) {
        const answer = await ask(url, method, path, options);
        expect(isTessera503(answer, 'storage_full'), `${method} ${path} on a full disk`, answer);
      }

      // Reads keep working, and they show that nothing changed.
      for (const client of [alice, dave]) {
        const me = await ask(url, 'GET', '/auth/me', { token: client.accessToken });
        expect(me.status === 200, `${client.email}'s access token after a refused logout`, me);
      }
      const sessions = await ask(url, 'GET', '/auth/sessions', { token: alice.accessToken });
      expect(
        sessions.status === 200 && sessions.body?.sessions?.[0]?.id === alice.sessionId,
        'GET /auth/sessions on a full disk',
        sessions,
      );
      const profile = await ask(url, 'GET', '/auth/me', { token: carol.accessToken });
      expect(
        profile.status === 200 && JSON.stringify(profile.body) === JSON.stringify(profileBefore),
        'the profile after a refused PATCH /auth/me',
        profile,
      );
      // The health check tells a load balancer or an operator that writes fail.
      const health = await ask(url, 'GET', '/healthz');
      expect(
        health.status === 503 && health.body?.error === 'storage_full',
        '/healthz on a full disk',
        health,
      );

      // Space returns: the same server takes writes again, and the refused ones can be redone.
      disk.free();
      const healthAfter = await ask(url, 'GET', '/healthz');
      expect(healthAfter.status === 200, '/healthz after space returned', healthAfter);
      const retried = await ask(url, 'POST', '/auth/refresh', { json: { refresh_token: bob.acknowledged } });
      expect(
        retried.status === 200 && retried.body.session_id === bob.sessionId,
        "bob's refresh token after recovery (the refused rotation must not have happened)",
        retried,
      );
      const redoneLogout = await ask(url, 'POST', '/auth/logout', {
        json: { refresh_token: alice.acknowledged },
      });
      expect(redoneLogout.status === 204, 'logout after recovery', redoneLogout);
      const aliceMe = await ask(url, 'GET', '/auth/me', { token: alice.accessToken });
      expect(aliceMe.status === 401, "alice's access token after the real logout", aliceMe);
      const redoneLogoutAll = await ask(url, 'POST', '/auth/logout-all', { token: dave.accessToken });
      expect(redoneLogoutAll.status === 204, 'logout-all after recovery', redoneLogoutAll);
      const daveMe = await ask(url, 'GET', '/auth/me', { token: dave.accessToken });
      expect(daveMe.status === 401, "dave's access token after the real logout-all", daveMe);
      const patched = await ask(url, 'PATCH', '/auth/me', {
        token: carol.accessToken,
        json: { name: 'Carol Changed' },
      });
      expect(patched.status === 200, 'PATCH /auth/me after recovery', patched);
      const registered = await ask(url, 'POST', '/auth/register', {
        json: { email: newcomer, password: PASSWORD },
        deadlineMs: 20_000,
      });
      expect(registered.status === 201, 'register after recovery (no half-made user)', registered);
      expect(server.child.pid === pid && server.child.exitCode === null, 'the server was not restarted');
      assert.deepEqual(problems, []);
    } finally {
      if (server) await terminate(server);
      disk.unmount();
    }
  });
});
