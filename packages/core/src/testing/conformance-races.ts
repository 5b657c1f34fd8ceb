import assert from 'node:assert/strict';
import { describe } from 'node:test';
import type { ConformanceTest } from './store-conformance.ts';
import {
  at,
  contenders,
  makeEvent,
  makeIdentity,
  makeOneTimeToken,
  makeSession,
  makeUser,
  seedUser,
  T0,
} from './store-fixtures.ts';

// Four contenders: the fixture's store and three peers (other processes for a shared SQLite file,
// other pools for PostgreSQL); stores without peers race themselves.
const CONTENDERS = 4;

const count = <T>(values: readonly T[], value: T): number => values.filter((v) => v === value).length;

/** Races with one winner, across connections and processes where the driver allows. */
export function racesConformance(test: ConformanceTest): void {
  describe('races', () => {
    test('maps one identity to one user: of 20 concurrent first sign-ins one creates it', async (fixture) => {
      const stores = await contenders(fixture, CONTENDERS);
      const identity = makeIdentity();
      const users = Array.from({ length: 20 }, (_, i) =>
        makeUser(i % 2 === 0 ? { email: null, passwordHash: null } : {}),
      );
      const results = await Promise.all(
        users.map((user, i) => at(stores, i).createUser(user, { identity, session: makeSession(user.id) })),
      );
      assert.equal(count(results, 'created'), 1, JSON.stringify(results));
      assert.equal(count(results, 'identity_taken'), 19);
      const winner = users[results.indexOf('created')];
      const { store } = fixture;
      assert.deepEqual(await store.findUserByIdentity(identity), winner);
      for (const user of users) {
        if (user !== winner) assert.equal(await store.findUserById(user.id), null, 'no loser left a user');
      }
      assert.equal((await store.listUsers(null, 100)).length, 1);
    });

    test('links one identity to one of several users racing for it', async (fixture) => {
      const users = [];
      for (let i = 0; i < 8; i += 1) users.push(await seedUser(fixture.store));
      const stores = await contenders(fixture, CONTENDERS);
      const identity = makeIdentity();
      const results = await Promise.all(users.map((u, i) => at(stores, i).linkIdentity(u.id, identity, T0)));
      assert.equal(count(results, 'linked'), 1, JSON.stringify(results));
      assert.equal(count(results, 'taken'), 7);
      assert.deepEqual(await fixture.store.findUserByIdentity(identity), users[results.indexOf('linked')]);
    });

    test('gives one email to one of several users racing for it', async (fixture) => {
      const users = [];
      for (let i = 0; i < 8; i += 1) users.push(await seedUser(fixture.store));
      const stores = await contenders(fixture, CONTENDERS);
      const results = await Promise.all(
        users.map((u, i) =>
          at(stores, i).updateUser(u.id, { email: 'wanted@example.com', updatedAtMs: T0 + 1 }),
        ),
      );
      const winners = results.filter((r) => typeof r === 'object' && r !== null);
      assert.equal(winners.length, 1, JSON.stringify(results));
      assert.equal(count(results, 'email_taken'), 7);
      for (const [i, user] of users.entries()) {
        if (results[i] === 'email_taken') assert.deepEqual(await fixture.store.findUserById(user.id), user);
      }
      assert.deepEqual(await fixture.store.findUserByEmail('wanted@example.com'), winners[0]);
    });

    test('redeems one token once: of concurrent redemptions exactly one wins', async (fixture) => {
      const user = await seedUser(fixture.store);
      const token = makeOneTimeToken(user.id, { kind: 'magic_link' });
      await fixture.store.createOneTimeToken(token);
      const stores = await contenders(fixture, CONTENDERS);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          at(stores, i).redeemOneTimeToken(token.tokenHash, 'magic_link', T0 + 1, {
            userPatch: { emailVerified: true, bumpTokenVersion: true },
          }),
        ),
      );
      assert.equal(results.filter((r) => r.status === 'redeemed').length, 1, JSON.stringify(results));
      assert.equal((await fixture.store.findUserById(user.id))?.tokenVersion, 2, 'the effect applied once');
    });

    test('leaves one live token of a kind when several are created at once', async (fixture) => {
      const user = await seedUser(fixture.store);
      const stores = await contenders(fixture, CONTENDERS);
      const tokens = Array.from({ length: 8 }, () => makeOneTimeToken(user.id, { kind: 'password_reset' }));
      await Promise.all(tokens.map((t, i) => at(stores, i).createOneTimeToken(t)));
      const results = [];
      for (const t of tokens)
        results.push((await fixture.store.redeemOneTimeToken(t.tokenHash, t.kind, T0 + 1)).status);
      assert.equal(count(results, 'redeemed'), 1, JSON.stringify(results));
    });

    test('accepts one TOTP step once under concurrency', async (fixture) => {
      const user = await seedUser(fixture.store, { totpSecret: 'enc:secret' });
      const stores = await contenders(fixture, CONTENDERS);
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => at(stores, i).acceptTotpStep(user.id, 777)),
      );
      assert.equal(count(results, true), 1, JSON.stringify(results));
      assert.equal((await fixture.store.findUserById(user.id))?.totpLastStep, 777);
    });

    test('uses one recovery code once under concurrency', async (fixture) => {
      const user = await seedUser(fixture.store);
      await fixture.store.setRecoveryCodes(user.id, ['only', 'spare'], { confirmTotp: false, atMs: T0 });
      const stores = await contenders(fixture, CONTENDERS);
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) => at(stores, i).useRecoveryCode(user.id, 'only', T0 + i)),
      );
      assert.equal(count(results, true), 1, JSON.stringify(results));
      assert.equal(await fixture.store.countRecoveryCodes(user.id), 1);
    });

    test('reports a device new to exactly one of concurrent logins', async (fixture) => {
      const user = await seedUser(fixture.store);
      const stores = await contenders(fixture, CONTENDERS);
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          at(stores, i).createSession(makeSession(user.id), { deviceFingerprint: 'same-laptop' }),
        ),
      );
      assert.equal(results.filter((r) => r.newDevice).length, 1);
    });

    test('never leases one outbox event to two owners at once', async (fixture) => {
      const events = Array.from({ length: 40 }, () => makeEvent());
      await fixture.store.appendOutbox(events);
      const stores = await contenders(fixture, CONTENDERS);
      const claims: Array<{ owner: string; id: string }> = [];
      for (let round = 0; round < 40; round += 1) {
        const batches = await Promise.all(
          Array.from({ length: 8 }, (_, i) =>
            at(stores, i)
              .claimOutbox(T0, 3, 60_000, `owner-${i}`)
              .then((claimed) => claimed.map((e) => ({ owner: `owner-${i}`, id: e.id }))),
          ),
        );
        if (batches.every((b) => b.length === 0)) break;
        claims.push(...batches.flat());
      }
      const claimedIds = claims.map((c) => c.id).sort();
      assert.deepEqual(claimedIds, events.map((e) => e.id).sort(), 'each event claimed exactly once');
      // Only the owner holding the lease can finish: another owner's attempt is ignored.
      const [first] = claims;
      if (!first) throw new Error('unreachable');
      await fixture.store.finishOutboxAttempt(first.id, 'intruder', { delivered: true, atMs: T0 + 1 });
      await fixture.store.finishOutboxAttempt(first.id, first.owner, { delivered: true, atMs: T0 + 1 });
      const delivered = await fixture.store.listOutbox('delivered', 10);
      assert.deepEqual(
        delivered.map((e) => [e.id, e.attempts]),
        [[first.id, 1]],
      );
    });
  });
}
