import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { isTesseraError } from '../errors.ts';
import { createEngineFixture, must } from '../testing/engine-fixture.ts';
import type { PolicyName } from './policies/registry.ts';
import { POLICY_NAMES } from './policies/registry.ts';

async function rejectsWith(promise: Promise<unknown>, code: string, field?: string): Promise<void> {
  await assert.rejects(
    promise,
    (error: unknown) =>
      isTesseraError(error) && error.code === code && (field === undefined || error.field === field),
  );
}

describe('startSession', () => {
  it('starts a session for a user without a password, with its amr, acr, device and auth time', async () => {
    const { engine, clock, events } = await createEngineFixture();
    const user = await engine.createUser({ email: 'Ada@Example.com', roles: ['admin'] });
    assert.equal(user.email, 'ada@example.com');
    const authTime = new Date(clock.now() - 30_000);
    const tokens = await engine.startSession({
      userId: user.id,
      amr: ['hwk', 'user'],
      acr: 'urn:example:passkey',
      authTime,
      deviceName: 'Ada’s laptop',
      ip: '203.0.113.9',
      userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Chrome/126.0',
    });
    const claims = decodeJwt(tokens.accessToken);
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['hwk', 'user']);
    assert.equal(claims.acr, 'urn:example:passkey');
    assert.equal(claims.auth_time, Math.floor(authTime.getTime() / 1000));
    assert.deepEqual(claims.roles, ['admin']);
    const [session] = await engine.listSessions(user.id, tokens.sessionId);
    assert.equal(session?.deviceName, 'Ada’s laptop');
    assert.equal(session?.ip, '203.0.113.9');
    assert.deepEqual(session?.amr, ['hwk', 'user']);
    assert.equal(session?.acr, 'urn:example:passkey');
    assert.equal(session?.current, true);
    assert.ok(events.some((e) => e.type === 'session.created' && e.sessionId === tokens.sessionId));
  });

  it('refreshes, rotates, lists and revokes like any session', async () => {
    const { engine } = await createEngineFixture();
    const user = await engine.createUser();
    const first = await engine.startSession({ userId: user.id, amr: ['pwd'], userAgent: 'curl/8.0' });
    const second = await engine.refresh({ refreshToken: must(first.refreshToken) });
    assert.notEqual(second.refreshToken, first.refreshToken);
    assert.equal(second.sessionId, first.sessionId);
    assert.equal((await engine.authenticate(second.accessToken)).session.deviceName, 'curl');
    assert.equal(await engine.revokeOwnSession(user.id, first.sessionId), true);
    await rejectsWith(engine.refresh({ refreshToken: must(second.refreshToken) }), 'invalid_grant');
    await rejectsWith(engine.authenticate(second.accessToken), 'invalid_token');
  });

  for (const policy of POLICY_NAMES) {
    it(`returns the policy's token set under ${policy}`, async () => {
      const { engine } = await createEngineFixture({ policy: policy as PolicyName });
      const user = await engine.createUser();
      const tokens = await engine.startSession({ userId: user.id, amr: ['swk'] });
      assert.equal(tokens.refreshToken !== null, engine.settings.issuesRefreshToken);
      assert.equal(tokens.sessionHandle !== null, engine.settings.issuesSessionHandle);
      assert.equal((await engine.authenticate(tokens.accessToken)).user.id, user.id);
    });
  }

  it('refuses bad amr, acr, auth times and device names, unknown and disabled users, and starts nothing', async () => {
    const { engine, clock, store } = await createEngineFixture({ maxLoginAgeSeconds: 3600 });
    const user = await engine.createUser();
    const base = { userId: user.id, amr: ['pwd'] };
    const cases: Array<[Record<string, unknown>, string, string | undefined]> = [
      [{ ...base, amr: [] }, 'invalid_request', 'amr'],
      [{ ...base, amr: ['password'] }, 'invalid_request', 'amr'],
      [{ ...base, amr: ['pwd', 'pwd'] }, 'invalid_request', 'amr'],
      [{ ...base, amr: 'pwd' }, 'invalid_request', 'amr'],
      [{ ...base, amr: [1] }, 'invalid_request', 'amr'],
      [{ ...base, amr: Array(11).fill('pwd') }, 'invalid_request', 'amr'],
      [{ ...base, acr: 'has space' }, 'invalid_request', 'acr'],
      [{ ...base, acr: 'x'.repeat(257) }, 'invalid_request', 'acr'],
      [{ ...base, acr: 7 }, 'invalid_request', 'acr'],
      [{ ...base, authTime: new Date(clock.now() + 60_000) }, 'invalid_request', 'auth_time'],
      [{ ...base, authTime: new Date(Number.NaN) }, 'invalid_request', 'auth_time'],
      [{ ...base, authTime: clock.now() }, 'invalid_request', 'auth_time'],
      [{ ...base, authTime: new Date(clock.now() - 3_600_000) }, 'invalid_request', 'auth_time'],
      [{ ...base, deviceName: '\u202eevil' }, 'invalid_request', 'device_name'],
      [{ ...base, userId: 'nobody' }, 'not_found', 'user_id'],
      [{ ...base, userId: 42 }, 'not_found', 'user_id'],
    ];
    for (const [input, code, field] of cases) {
      await rejectsWith(engine.startSession(input as never), code, field);
    }
    await rejectsWith(engine.startSession(null as never), 'invalid_request');
    await engine.updateUser(user.id, { disabled: true });
    await rejectsWith(engine.startSession(base), 'account_disabled');
    assert.deepEqual(await store.listLiveSessions(user.id, clock.now()), []);
  });

  it('refuses an auth time older than the absolute lifetime', async () => {
    const { engine, clock } = await createEngineFixture({
      refreshAbsoluteTtlSeconds: 86_400,
      refreshIdleTtlSeconds: 3600,
    });
    const user = await engine.createUser();
    await rejectsWith(
      engine.startSession({ userId: user.id, amr: ['pwd'], authTime: new Date(clock.now() - 86_400_000) }),
      'invalid_request',
      'auth_time',
    );
    // A clock a little ahead on the app's side is within the leeway.
    const tokens = await engine.startSession({
      userId: user.id,
      amr: ['pwd'],
      authTime: new Date(clock.now() + 1000),
    });
    assert.equal(decodeJwt(tokens.accessToken).auth_time, Math.floor(clock.now() / 1000));
  });

  it('is the re-authentication a forced one waits for: older sessions end, the flag clears', async () => {
    const { engine } = await createEngineFixture();
    const user = await engine.createUser();
    const old = await engine.startSession({ userId: user.id, amr: ['pwd'] });
    await engine.updateUser(user.id, { reauthRequired: true });
    await rejectsWith(engine.refresh({ refreshToken: must(old.refreshToken) }), 'invalid_grant');
    const fresh = await engine.startSession({ userId: user.id, amr: ['hwk', 'user'] });
    const next = await engine.refresh({ refreshToken: must(fresh.refreshToken) });
    assert.equal(next.sessionId, fresh.sessionId);
    assert.deepEqual(
      (await engine.listSessions(user.id, null)).map((s) => s.id),
      [fresh.sessionId],
    );
  });

  it('honours the session cap', async () => {
    const { engine, clock } = await createEngineFixture({ maxSessionsPerUser: 2 });
    const user = await engine.createUser();
    const sessions = [];
    for (let i = 0; i < 3; i += 1) {
      clock.advance(1000);
      sessions.push(await engine.startSession({ userId: user.id, amr: ['pwd'] }));
    }
    assert.deepEqual(
      (await engine.listSessions(user.id, null)).map((s) => s.id),
      sessions.slice(1).map((s) => s.sessionId),
    );
  });
});
