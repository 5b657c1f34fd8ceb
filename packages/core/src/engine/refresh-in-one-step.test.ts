import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../errors.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import type { Store } from '../store/store.ts';
import { createEngineFixture, must } from '../testing/engine-fixture.ts';
import { parseRefreshToken, REFRESH_TOKEN_PREFIX } from '../tokens/refresh-token.ts';

const PASSWORD = 'correct horse battery staple';

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isTesseraError(error) && error.code === code);
}

/** A memory store that records the name of every method called, optionally without the one-step method. */
function recordingStore(options: { oneStep: boolean }): { store: Store; calls: string[] } {
  const inner = createMemoryStore();
  const calls: string[] = [];
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      if (name === 'rotateSessionInOneStep' && !options.oneStep) return undefined;
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push(String(name));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { store, calls };
}

/**
 * An engine over a recording store, a registered user, and a first refresh (which reads the session
 * the general way and keeps its salt): the refresh token it returns is refreshed in one step next.
 */
async function warmed(oneStep: boolean) {
  const { store, calls } = recordingStore({ oneStep });
  const fixture = await createEngineFixture({ store, reuseGraceSeconds: 10 });
  const first = await fixture.engine.register({ email: 'ada@example.com', password: PASSWORD });
  const second = await fixture.engine.refresh({ refreshToken: must(first.refreshToken) });
  calls.length = 0;
  return { ...fixture, calls, first, second };
}

describe('refresh in one store call', () => {
  it('rotates with one store call once the session was seen, and with the general reads before', async () => {
    const { store, calls } = recordingStore({ oneStep: true });
    const { engine, events } = await createEngineFixture({ store });
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    calls.length = 0;
    const second = await engine.refresh({ refreshToken: must(first.refreshToken) });
    assert.deepEqual(calls, ['findSessionWithUser', 'rotateSession']);
    calls.length = 0;
    const third = await engine.refresh({ refreshToken: must(second.refreshToken) });
    assert.deepEqual(calls, ['rotateSessionInOneStep']);
    assert.equal(parseRefreshToken(must(third.refreshToken))?.generation, 3);
    assert.equal((await store.findSession(first.sessionId))?.generation, 3);
    assert.equal(events.filter((e) => e.type === 'session.refreshed').length, 2);
    await engine.authenticate(third.accessToken);
  });

  for (const oneStep of [true, false]) {
    const label = oneStep ? 'one step' : 'general path';

    it(`answers a grace replay with the same successor and no alarm (${label})`, async () => {
      const { engine, clock, events, second } = await warmed(oneStep);
      const third = await engine.refresh({ refreshToken: must(second.refreshToken) });
      clock.advance(9_999);
      const replay = await engine.refresh({ refreshToken: must(second.refreshToken) });
      assert.equal(replay.refreshToken, third.refreshToken);
      assert.ok(!events.some((e) => e.type === 'session.reuse_detected'));
    });

    it(`revokes for reuse after the grace window (${label})`, async () => {
      const { engine, store, clock, events, first, second } = await warmed(oneStep);
      await engine.refresh({ refreshToken: must(second.refreshToken) });
      clock.advance(10_000);
      await rejectsWith(engine.refresh({ refreshToken: must(second.refreshToken) }), 'invalid_grant');
      assert.equal((await store.findSession(first.sessionId))?.revokeReason, 'reuse_detected');
      assert.ok(events.some((e) => e.type === 'session.reuse_detected'));
    });

    it(`refuses at the idle expiry, exactly, and changes nothing (${label})`, async () => {
      const { engine, store, clock, first, second } = await warmed(oneStep);
      const before = must(await store.findSession(first.sessionId));
      clock.set(before.idleExpiresAtMs);
      await rejectsWith(engine.refresh({ refreshToken: must(second.refreshToken) }), 'invalid_grant');
      assert.deepEqual(await store.findSession(first.sessionId), before);
    });

    it(`ends the session of a disabled user instead of rotating (${label})`, async () => {
      const { engine, store, clock, first, second } = await warmed(oneStep);
      const session = must(await store.findSession(first.sessionId));
      await store.updateUser(session.userId, { disabled: true, updatedAtMs: clock.now() });
      await rejectsWith(engine.refresh({ refreshToken: must(second.refreshToken) }), 'invalid_grant');
      const after = must(await store.findSession(first.sessionId));
      assert.equal(after.revokeReason, 'account_disabled');
      assert.equal(after.generation, session.generation);
    });

    it(`refuses a wrong MAC for a known session without touching it (${label})`, async () => {
      const { engine, store, first, second } = await warmed(oneStep);
      const before = await store.findSession(first.sessionId);
      const parsed = must(parseRefreshToken(must(second.refreshToken)));
      const generation = Buffer.alloc(4);
      generation.writeUInt32BE(parsed.generation);
      const forged =
        REFRESH_TOKEN_PREFIX +
        Buffer.concat([Buffer.from(parsed.sessionId, 'base64url'), generation, Buffer.alloc(32, 7)]).toString(
          'base64url',
        );
      await rejectsWith(engine.refresh({ refreshToken: forged }), 'invalid_grant');
      assert.deepEqual(await store.findSession(first.sessionId), before);
    });

    it(`serves 20 concurrent refreshes of one token with one successor (${label})`, async () => {
      const { engine, store, events, first, second } = await warmed(oneStep);
      const results = await Promise.all(
        Array.from({ length: 20 }, () => engine.refresh({ refreshToken: must(second.refreshToken) })),
      );
      assert.equal(new Set(results.map((r) => r.refreshToken)).size, 1);
      assert.equal((await store.findSession(first.sessionId))?.generation, 3);
      assert.equal(events.filter((e) => e.type === 'session.refreshed').length, 2);
      assert.ok(!events.some((e) => e.type === 'session.reuse_detected'));
    });
  }

  it('counts each refresh once against the per-session limit, in one step as in two', async () => {
    const { store, calls } = recordingStore({ oneStep: true });
    const { engine } = await createEngineFixture({
      store,
      rateLimits: { refreshPerSession: [{ limit: 4, windowSeconds: 60 }] },
    });
    let token = must((await engine.register({ email: 'ada@example.com', password: PASSWORD })).refreshToken);
    for (let i = 0; i < 4; i += 1) token = must((await engine.refresh({ refreshToken: token })).refreshToken);
    assert.ok(calls.includes('rotateSessionInOneStep'));
    await rejectsWith(engine.refresh({ refreshToken: token }), 'rate_limited');
  });

  it('leaves a refresh carrying anything else (a DPoP key, say) to the general path', async () => {
    const { engine, calls, second } = await warmed(true);
    const input = {
      refreshToken: must(second.refreshToken),
      dpopJkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    };
    await engine.refresh(input as Parameters<typeof engine.refresh>[0]);
    assert.deepEqual(calls, ['findSessionWithUser', 'rotateSession']);
  });

  it('takes the general path for a DPoP-bound session (the one-step rotation refuses it)', async () => {
    const { engine, store, clock, calls, first, second } = await warmed(true);
    const session = must(await store.findSession(first.sessionId));
    // Bound by a refresh that carried a proof (the engine's own binding is tested with DPoP).
    await store.rotateSession(session.id, session.generation, {
      nowMs: clock.now(),
      idleExpiresAtMs: session.idleExpiresAtMs,
      ip: null,
      userAgent: null,
      dpopJkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    });
    // The predecessor inside the grace window answers with the current token (generation 3).
    const current = await engine.refresh({
      refreshToken: must(second.refreshToken),
      dpopJkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    });
    calls.length = 0;
    // Without a proof: refused in one step, then refused by the general path (the binding), which
    // rotates nothing.
    await assert.rejects(
      engine.refresh({ refreshToken: must(current.refreshToken) }),
      (error: unknown) => isTesseraError(error) && error.code === 'invalid_grant',
    );
    assert.deepEqual(calls, ['rotateSessionInOneStep']);
    // With the session's key: a refresh carrying a key never tries the one step; the general path
    // reads and rotates.
    calls.length = 0;
    await engine.refresh({
      refreshToken: must(current.refreshToken),
      dpopJkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs',
    });
    assert.deepEqual(calls, ['findSessionWithUser', 'rotateSession']);
  });
});
