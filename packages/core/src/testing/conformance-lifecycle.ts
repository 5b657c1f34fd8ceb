import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ConformanceTest } from './store-conformance.ts';
import {
  HOUR,
  ids,
  makeEvent,
  makeIdentity,
  makeOneTimeToken,
  makeSession,
  makeSigningKey,
  makeUser,
  readState,
  rotation,
  seedSessions,
  seedUser,
  T0,
} from './store-fixtures.ts';

/** Lifecycle: ping, close, and everything intact after a close and reopen (durable drivers). */
export function lifecycleConformance(test: ConformanceTest): void {
  describe('lifecycle', () => {
    test('pings while open; close is idempotent', async ({ store }) => {
      await store.ping();
      await store.close();
      await store.close();
    });

    test(
      'keeps everything across a close and reopen',
      async ({ store, reopen }) => {
        assert.ok(reopen, 'a durable store must provide reopen');
        const user = await seedUser(store, {
          roles: ['admin'],
          profile: { name: 'Ada' },
          totpSecret: 'JBSWY3DP',
        });
        const changed = await store.updateUser(user.id, { bumpTokenVersion: true, updatedAtMs: T0 + 1 });
        const [ended, kept] = await seedSessions(store, user.id, {}, { amr: ['pwd', 'otp'] });
        if (!ended || !kept) throw new Error('unreachable');
        const first = await store.rotateSession(ended.id, 1, rotation(T0 + 5));
        await store.rotateSession(ended.id, 2, rotation(T0 + 6));
        await store.revokeSession(kept.id, T0 + 7, 'logout');
        const key = makeSigningKey(T0);
        const newer = makeSigningKey(T0 + 1);
        await store.addSigningKey(key);
        await store.addSigningKey(newer);
        const [live] = await seedSessions(store, user.id, { createdAtMs: T0 + 8 });
        await store.emergencyRevokeAll(T0 + 9);
        const before = {
          user: await store.findUserById(user.id),
          sessions: await Promise.all([ended, kept, live].map((s) => store.findSession(s?.id ?? ''))),
          keys: await store.listSigningKeys(),
        };
        assert.equal(before.sessions[0]?.generation, 3);
        assert.equal(first?.generation, 2);
        await store.close();
        const again = await reopen();
        try {
          assert.deepEqual(await again.findUserById(user.id), changed);
          assert.deepEqual(before.user, changed);
          assert.deepEqual(
            await Promise.all([ended, kept, live].map((s) => again.findSession(s?.id ?? ''))),
            before.sessions,
          );
          assert.deepEqual(await again.listSigningKeys(), before.keys);
          assert.equal(await again.getGlobalNotBeforeMs(), T0 + 9);
          // The reopened store still enforces the compare-and-set on the stored generation.
          const [fresh] = await seedSessions(again, user.id, { createdAtMs: T0 + 10 });
          assert.equal(await again.rotateSession(fresh?.id ?? '', 2, rotation(T0 + 11)), null);
          assert.equal((await again.rotateSession(fresh?.id ?? '', 1, rotation(T0 + 11)))?.generation, 2);
        } finally {
          await again.close();
        }
      },
      'durable',
    );

    test(
      'keeps identities, two-factor state, devices, one-time tokens and the outbox across a reopen',
      async ({ store, reopen }) => {
        assert.ok(reopen, 'a durable store must provide reopen');
        const user = makeUser({ email: null, passwordHash: null, emailVerified: true });
        const identity = makeIdentity();
        const session = makeSession(user.id, { acr: 'urn:example:mfa', dpopJkt: 'key-a' });
        assert.equal(
          await store.createUser(user, { identity, session, deviceFingerprint: 'laptop' }),
          'created',
        );
        const second = makeIdentity({ issuer: 'https://accounts.example.org' });
        assert.equal(await store.linkIdentity(user.id, second, T0 + 1), 'linked');
        await store.updateUser(user.id, { totpPendingSecret: 'enc:pending', updatedAtMs: T0 + 2 });
        await store.setRecoveryCodes(user.id, ['code-a', 'code-b'], { confirmTotp: true, atMs: T0 + 3 });
        assert.equal(await store.useRecoveryCode(user.id, 'code-a', T0 + 4), true);
        assert.equal(await store.acceptTotpStep(user.id, 1000), true);
        const token = makeOneTimeToken(user.id, { kind: 'email_change', expiresAtMs: T0 + HOUR });
        await store.createOneTimeToken(token);
        const pending = makeEvent();
        const leased = makeEvent({ createdAtMs: T0 - 1 });
        const delivered = makeEvent({ createdAtMs: T0 - 1 });
        await store.appendOutbox([pending, leased, delivered]);
        // The two older events are due first: both leased to `worker`, one then delivered.
        await store.claimOutbox(T0, 2, 60_000, 'worker');
        await store.finishOutboxAttempt(delivered.id, 'worker', { delivered: true, atMs: T0 + 5 });
        const known = { userIds: [user.id], sessionIds: [session.id] };
        const before = await readState(store, known);
        await store.close();
        const again = await reopen();
        try {
          assert.deepEqual(await readState(again, known), before);
          assert.deepEqual(await again.findUserByIdentity(second), await again.findUserById(user.id));
          assert.equal(await again.acceptTotpStep(user.id, 1000), false, 'the accepted step is remembered');
          assert.equal(await again.useRecoveryCode(user.id, 'code-a', T0 + 6), false);
          assert.equal(await again.useRecoveryCode(user.id, 'code-b', T0 + 6), true);
          const device = await again.createSession(makeSession(user.id), { deviceFingerprint: 'laptop' });
          assert.equal(device.newDevice, false, 'known devices are remembered');
          const claimed = await again.claimOutbox(T0 + 1, 10, 60_000, 'other');
          assert.deepEqual(ids(claimed), [pending.id], 'the lease of `worker` is remembered');
          assert.deepEqual(ids(await again.claimOutbox(T0 + 60_000, 10, 60_000, 'other')), [leased.id]);
          const redeemed = await again.redeemOneTimeToken(token.tokenHash, 'email_change', T0 + 7);
          assert.equal(redeemed.status, 'redeemed');
        } finally {
          await again.close();
        }
      },
      'durable',
    );
  });
}
