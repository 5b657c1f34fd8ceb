import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isTesseraError } from '../errors.ts';
import { createEngineFixture, must } from '../testing/engine-fixture.ts';
import type { PolicyName } from './policies/registry.ts';
import { POLICY_NAMES } from './policies/registry.ts';

const TTL_S = 600;
const SOFT_S = 100;
const IDLE_S = 3600;
const ABSOLUTE_S = 4 * 3600;
const GRACE_S = 10;
const LEEWAY_S = 2;
const PASSWORD = 'correct horse battery staple';

/** What the client holds for one session, and what the model believes about it. */
interface Held {
  id: string;
  access: string;
  accessIatMs: number;
  refresh: string | null;
  handle: string | null;
  /** Credentials replaced by a renewal, newest last, with when they were replaced. */
  stale: Array<{ access: string; refresh: string | null; iatMs: number; replacedAtMs: number }>;
  ended: boolean;
  idleAtMs: number;
  absoluteAtMs: number;
}

type Command =
  | { kind: 'login' }
  | { kind: 'renew'; pick: number }
  | { kind: 'replay'; pick: number; age: number }
  | { kind: 'logout'; pick: number }
  | { kind: 'password'; pick: number }
  | { kind: 'advance'; seconds: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'login' } as const) },
  { weight: 5, arbitrary: fc.nat(9).map((pick) => ({ kind: 'renew', pick }) as const) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.nat(9), fc.nat(3)).map(([pick, age]) => ({ kind: 'replay', pick, age }) as const),
  },
  { weight: 1, arbitrary: fc.nat(9).map((pick) => ({ kind: 'logout', pick }) as const) },
  { weight: 1, arbitrary: fc.nat(9).map((pick) => ({ kind: 'password', pick }) as const) },
  {
    weight: 5,
    arbitrary: fc
      .constantFrom(1, 5, 30, 60, 99, 101, 300, 601, 700, 1800, 3600)
      .map((seconds) => ({ kind: 'advance', seconds }) as const),
  },
);

async function outcome<T>(
  promise: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; code: string }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    if (!isTesseraError(error)) throw error;
    return { ok: false, code: error.code };
  }
}

/** Runs one random sequence against a fresh engine and checks the invariants after every step. */
async function runSequence(policy: PolicyName, commands: Command[]): Promise<void> {
  const { engine, store, clock } = await createEngineFixture({
    policy,
    accessTtlSeconds: TTL_S,
    softTtlSeconds: SOFT_S,
    refreshIdleTtlSeconds: IDLE_S,
    refreshAbsoluteTtlSeconds: ABSOLUTE_S,
    reuseGraceSeconds: GRACE_S,
    clockLeewaySeconds: LEEWAY_S,
  });
  const first = await engine.register({ email: 'prop@example.com', password: PASSWORD });
  const userId = first.userId;
  let password = PASSWORD;
  const sessions: Held[] = [];
  const adopt = (tokens: typeof first): Held => {
    const now = clock.now();
    const held: Held = {
      id: tokens.sessionId,
      access: tokens.accessToken,
      accessIatMs: now,
      refresh: tokens.refreshToken,
      handle: tokens.sessionHandle,
      stale: [],
      ended: false,
      idleAtMs: Math.min(now + IDLE_S * 1000, now + ABSOLUTE_S * 1000),
      absoluteAtMs: now + ABSOLUTE_S * 1000,
    };
    sessions.push(held);
    return held;
  };
  const renewedTo = (held: Held, tokens: { accessToken: string; refreshToken?: string | null }) => {
    const now = clock.now();
    held.stale.push({
      access: held.access,
      refresh: held.refresh,
      iatMs: held.accessIatMs,
      replacedAtMs: now,
    });
    held.access = tokens.accessToken;
    held.accessIatMs = now;
    if (tokens.refreshToken !== undefined) held.refresh = tokens.refreshToken;
    held.idleAtMs = Math.min(now + IDLE_S * 1000, held.absoluteAtMs);
  };
  adopt(first);
  const live = (h: Held, now: number) => !h.ended && now < h.idleAtMs && now < h.absoluteAtMs;
  const unexpired = (iatMs: number, now: number) => now < iatMs + (TTL_S + LEEWAY_S) * 1000;

  for (const [step, cmd] of commands.entries()) {
    const now = clock.now();
    const label = `step ${step} ${JSON.stringify(cmd)}`;
    const held = sessions.length ? sessions[('pick' in cmd ? cmd.pick : 0) % sessions.length] : undefined;
    switch (cmd.kind) {
      case 'advance':
        clock.advance(cmd.seconds * 1000);
        break;
      case 'login': {
        const result = await outcome(engine.login({ email: 'prop@example.com', password }));
        assert.ok(result.ok, label);
        if (result.ok) adopt(result.value);
        break;
      }
      case 'logout':
        if (held) {
          await engine.logoutSession(held.id);
          held.ended = true;
        }
        break;
      case 'password': {
        if (!held) break;
        const auth = await outcome(engine.authenticate(held.access));
        const softOk = policy !== 'soft-expiry' || now < held.accessIatMs + SOFT_S * 1000;
        const expected = !held.ended && unexpired(held.accessIatMs, now) && softOk;
        assert.equal(auth.ok, expected, `${label}: authenticate`);
        if (!auth.ok) break;
        const next = `${PASSWORD} ${step}`;
        const changed = await outcome(engine.changePassword(auth.value, password, next));
        // The current session is refreshed only while it is live; an idle-expired one cannot rotate.
        if (!changed.ok) {
          assert.ok(
            !live(held, now),
            `${label}: password change refused for a live session (${changed.code})`,
          );
          break;
        }
        password = next;
        for (const other of sessions) if (other !== held) other.ended = true;
        renewedTo(held, changed.value);
        break;
      }
      case 'renew': {
        if (!held) break;
        if (policy === 'rotating-refresh') {
          const result = await outcome(engine.refresh({ refreshToken: must(held.refresh) }));
          assert.equal(result.ok, live(held, now), `${label}: refresh`);
          if (result.ok) renewedTo(held, result.value);
        } else if (policy === 'soft-expiry') {
          const soft = now >= held.accessIatMs + SOFT_S * 1000;
          const result = await outcome(engine.renew(held.access));
          const expected = live(held, now) && soft && unexpired(held.accessIatMs, now);
          assert.equal(result.ok, expected, `${label}: renew`);
          if (result.ok) renewedTo(held, result.value);
        } else if (policy === 'expired-token-exchange') {
          const expired = now >= held.accessIatMs + TTL_S * 1000;
          const result = await outcome(engine.exchangeExpired(held.access, must(held.handle)));
          assert.equal(result.ok, live(held, now) && expired, `${label}: exchange`);
          if (result.ok) renewedTo(held, result.value);
        } else {
          // Single tokens: using one is what renews it (sliding) or simply works (long-lived).
          const auth = await outcome(engine.authenticate(held.access));
          assert.equal(auth.ok, !held.ended && unexpired(held.accessIatMs, now), `${label}: authenticate`);
          if (auth.ok && policy === 'sliding-single-token') {
            const slid = await engine.slide(auth.value);
            const due = now >= held.accessIatMs + (TTL_S * 1000) / 2;
            assert.equal(slid !== null, due && live(held, now), `${label}: slide`);
            if (slid) renewedTo(held, { accessToken: slid.accessToken });
          }
        }
        break;
      }
      case 'replay': {
        const old = held?.stale[held.stale.length - 1 - cmd.age];
        if (!held || !old) break;
        if (policy === 'rotating-refresh') {
          const result = await outcome(engine.refresh({ refreshToken: must(old.refresh) }));
          const predecessor = cmd.age === 0 && now < old.replacedAtMs + GRACE_S * 1000;
          if (!live(held, now)) {
            assert.equal(result.ok, false, label);
          } else if (predecessor) {
            assert.ok(result.ok, `${label}: grace replay`);
            if (result.ok) assert.equal(result.value.refreshToken, held.refresh, `${label}: same successor`);
          } else {
            assert.equal(result.ok, false, label);
            held.ended = true;
          }
        } else if (policy === 'soft-expiry' || policy === 'expired-token-exchange') {
          const result =
            policy === 'soft-expiry'
              ? await outcome(engine.renew(old.access))
              : await outcome(engine.exchangeExpired(old.access, must(held.handle)));
          assert.equal(result.ok, false, `${label}: a renewed token never renews again`);
          // It ends the session when it gets as far as the generation check.
          const reachable =
            !held.ended &&
            (policy === 'soft-expiry'
              ? unexpired(old.iatMs, now) && now >= old.iatMs + SOFT_S * 1000
              : now >= old.iatMs + TTL_S * 1000) &&
            live(held, now);
          if (reachable) held.ended = true;
        }
        break;
      }
    }
    // Invariant: the store's live sessions are exactly the model's.
    const nowAfter = clock.now();
    const expectedLive = sessions
      .filter((h) => live(h, nowAfter))
      .map((h) => h.id)
      .sort();
    const actualLive = (await store.listLiveSessions(userId, nowAfter)).map((s) => s.id).sort();
    assert.deepEqual(actualLive, expectedLive, `${label}: live sessions`);
    for (const h of sessions) {
      const row = await store.findSession(h.id);
      assert.ok(row, `${label}: session row kept`);
      if (h.ended) assert.notEqual(row.revokedAtMs, null, `${label}: ended session ${h.id} is revoked`);
      assert.ok(row.generation >= 1);
    }
  }
}

describe('policy invariants (property-based)', () => {
  for (const policy of POLICY_NAMES) {
    it(`${policy}: no ended session yields a token, no live session is refused, the store agrees`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(command, { minLength: 5, maxLength: 30 }), (commands) =>
          runSequence(policy, commands),
        ),
        { numRuns: 100 },
      );
    });
  }
});
