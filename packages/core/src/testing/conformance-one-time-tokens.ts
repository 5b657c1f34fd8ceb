import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ConformanceTest } from './store-conformance.ts';
import {
  ids,
  makeEvent,
  makeOneTimeToken,
  makeSession,
  outboxIds,
  readState,
  seedSessions,
  seedUser,
  T0,
} from './store-fixtures.ts';

const NEVER = (): never => {
  throw new Error('emit must not run when nothing is redeemed');
};

/** One-time tokens: single use, exact expiry, a newer one voids the older, effects in the same change. */
export function oneTimeTokensConformance(test: ConformanceTest): void {
  describe('one-time tokens', () => {
    test('redeems a token once, for its kind only, until the instant it expires', async ({ store }) => {
      const user = await seedUser(store);
      const token = makeOneTimeToken(user.id, { kind: 'magic_link', expiresAtMs: T0 + 1000 });
      const event = makeEvent({ type: 'magic_link.requested' });
      let seen: unknown;
      await store.createOneTimeToken(token, (record) => {
        seen = record;
        return [event];
      });
      assert.deepEqual(seen, token);
      assert.deepEqual(await outboxIds(store), [event.id]);
      assert.deepEqual(await store.redeemOneTimeToken(token.tokenHash, 'password_reset', T0 + 1), {
        status: 'invalid',
      });
      const redeemed = await store.redeemOneTimeToken(token.tokenHash, 'magic_link', T0 + 999);
      assert.deepEqual(redeemed, {
        status: 'redeemed',
        token: { ...token, usedAtMs: T0 + 999 },
        user,
        revoked: [],
        evicted: [],
        newDevice: false,
      });
      assert.deepEqual(await store.redeemOneTimeToken(token.tokenHash, 'magic_link', T0 + 999), {
        status: 'invalid',
      });

      const expiring = makeOneTimeToken(user.id, { kind: 'email_verification', expiresAtMs: T0 + 1000 });
      await store.createOneTimeToken(expiring);
      assert.deepEqual(await store.redeemOneTimeToken(expiring.tokenHash, 'email_verification', T0 + 1000), {
        status: 'invalid',
      });
      assert.deepEqual(
        await store.redeemOneTimeToken(makeOneTimeToken(user.id).tokenHash, 'password_reset', T0),
        { status: 'invalid' },
        'never stored',
      );
    });

    test('voids the older unused token of the same kind for the same user only', async ({ store }) => {
      const user = await seedUser(store);
      const other = await seedUser(store);
      const older = makeOneTimeToken(user.id, { kind: 'password_reset' });
      const verification = makeOneTimeToken(user.id, { kind: 'email_verification' });
      const othersReset = makeOneTimeToken(other.id, { kind: 'password_reset' });
      for (const t of [older, verification, othersReset]) await store.createOneTimeToken(t);
      const newer = makeOneTimeToken(user.id, { kind: 'password_reset', createdAtMs: T0 + 10 });
      await store.createOneTimeToken(newer);
      const redeem = (t: typeof older) => store.redeemOneTimeToken(t.tokenHash, t.kind, T0 + 20);
      assert.equal((await redeem(older)).status, 'invalid', 'voided by the newer one');
      assert.equal((await redeem(newer)).status, 'redeemed');
      assert.equal((await redeem(verification)).status, 'redeemed', 'another kind is untouched');
      assert.equal((await redeem(othersReset)).status, 'redeemed', 'another user is untouched');
    });

    test('applies a password reset with the redemption: patch, sessions ended, events', async ({ store }) => {
      const user = await seedUser(store, { tokenVersion: 2 });
      const sessions = await seedSessions(store, user.id, { createdAtMs: T0 }, { createdAtMs: T0 + 1 });
      const token = makeOneTimeToken(user.id, { kind: 'password_reset' });
      await store.createOneTimeToken(token);
      const event = makeEvent({ type: 'password.changed' });
      let seen: unknown;
      const result = await store.redeemOneTimeToken(token.tokenHash, 'password_reset', T0 + 100, {
        userPatch: { passwordHash: 'reset-hash', bumpTokenVersion: true, emailVerified: true },
        revokeSessions: 'password_reset',
        emit: (effect) => {
          seen = effect;
          return [event];
        },
      });
      const expectedUser = {
        ...user,
        passwordHash: 'reset-hash',
        emailVerified: true,
        tokenVersion: 3,
        tokenVersionChangedAtMs: T0 + 100,
        updatedAtMs: T0 + 100,
      };
      const revoked = sessions.map((s) => ({ ...s, revokedAtMs: T0 + 100, revokeReason: 'password_reset' }));
      assert.deepEqual(result, {
        status: 'redeemed',
        token: { ...token, usedAtMs: T0 + 100 },
        user: expectedUser,
        revoked,
        evicted: [],
        newDevice: false,
      });
      assert.deepEqual(seen, {
        user: expectedUser,
        previous: user,
        token: { ...token, usedAtMs: T0 + 100 },
        revoked,
        evicted: [],
        newDevice: false,
      });
      assert.deepEqual(await store.findUserById(user.id), expectedUser);
      for (const s of revoked) assert.deepEqual(await store.findSession(s.id), s);
      assert.deepEqual(await outboxIds(store), [event.id]);
    });

    test('starts a session with a magic link: cap, device, events in the same change', async ({ store }) => {
      const user = await seedUser(store);
      const [old] = await seedSessions(store, user.id, { createdAtMs: T0 });
      const token = makeOneTimeToken(user.id, { kind: 'magic_link' });
      await store.createOneTimeToken(token);
      const session = makeSession(user.id, { createdAtMs: T0 + 50, amr: ['email'] });
      let seen: unknown;
      const result = await store.redeemOneTimeToken(token.tokenHash, 'magic_link', T0 + 50, {
        createSession: { session, maxPerUser: 1, deviceFingerprint: 'tablet' },
        emit: (effect) => {
          seen = { newDevice: effect.newDevice, evicted: effect.evicted, previous: effect.previous };
          return [makeEvent({ type: 'session.created' })];
        },
      });
      assert.equal(result.status, 'redeemed');
      if (result.status !== 'redeemed') return;
      const evicted = [{ ...old, revokedAtMs: T0 + 50, revokeReason: 'evicted' }];
      assert.deepEqual(result.evicted, evicted);
      assert.equal(result.newDevice, true);
      assert.deepEqual(seen, { newDevice: true, evicted, previous: user }, 'the emit sees the evictions');
      assert.deepEqual(await store.findSession(session.id), session);
      assert.deepEqual(ids(await store.listLiveSessions(user.id, T0 + 51)), [session.id]);
      assert.equal(
        (await store.createSession(makeSession(user.id), { deviceFingerprint: 'tablet' })).newDevice,
        false,
      );
    });

    test('answers email_taken for an email change to a taken address, leaving the token unused', async ({
      store,
    }) => {
      const user = await seedUser(store);
      const other = await seedUser(store);
      const token = makeOneTimeToken(user.id, { kind: 'email_change', email: other.email ?? '' });
      await store.createOneTimeToken(token);
      const known = { userIds: [user.id, other.id], sessionIds: [] };
      const before = await readState(store, known);
      const change = { userPatch: { email: other.email, emailVerified: true }, emit: NEVER };
      assert.deepEqual(await store.redeemOneTimeToken(token.tokenHash, 'email_change', T0 + 1, change), {
        status: 'email_taken',
      });
      assert.deepEqual(await readState(store, known), before);
      // The address is freed: the same token now works, so it was not used up.
      await store.updateUser(other.id, { email: 'elsewhere@example.com', updatedAtMs: T0 + 2 });
      const redeemed = await store.redeemOneTimeToken(token.tokenHash, 'email_change', T0 + 3, {
        userPatch: { email: other.email, emailVerified: true },
      });
      assert.equal(redeemed.status, 'redeemed');
      assert.equal((await store.findUserByEmail(other.email ?? ''))?.id, user.id);
    });

    test('changes nothing and emits nothing for an invalid redemption', async ({ store }) => {
      const user = await seedUser(store);
      const [session] = await seedSessions(store, user.id, {});
      const token = makeOneTimeToken(user.id, { kind: 'password_reset', expiresAtMs: T0 + 10 });
      await store.createOneTimeToken(token);
      const known = { userIds: [user.id], sessionIds: [session?.id ?? ''] };
      const before = await readState(store, known);
      const effect = {
        userPatch: { passwordHash: 'x', bumpTokenVersion: true },
        revokeSessions: 'password_reset' as const,
        createSession: { session: makeSession(user.id), maxPerUser: 1 },
        emit: NEVER,
      };
      assert.equal(
        (await store.redeemOneTimeToken(token.tokenHash, 'magic_link', T0, effect)).status,
        'invalid',
      );
      assert.equal(
        (await store.redeemOneTimeToken(token.tokenHash, 'password_reset', T0 + 10, effect)).status,
        'invalid',
      );
      assert.deepEqual(await readState(store, known), before);
      assert.equal(await store.findSession(effect.createSession.session.id), null);
    });
  });
}
