import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../errors.ts';
import { createEngineFixture, must } from '../testing/engine-fixture.ts';
import { parseRefreshToken, REFRESH_TOKEN_PREFIX } from '../tokens/refresh-token.ts';

const PASSWORD = 'correct horse battery staple';

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => isTesseraError(error) && error.code === code);
}

describe('refresh rotation', () => {
  it('rotates the current token: new token, generation +1, old token retired', async () => {
    const { engine, store } = await createEngineFixture();
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    assert.ok(must(first.refreshToken).startsWith(REFRESH_TOKEN_PREFIX));
    const second = await engine.refresh({ refreshToken: must(first.refreshToken) });
    assert.notEqual(second.refreshToken, first.refreshToken);
    assert.equal(second.sessionId, first.sessionId);
    assert.equal((await store.findSession(first.sessionId))?.generation, 2);
    assert.equal(parseRefreshToken(must(second.refreshToken))?.generation, 2);
  });

  it('answers the predecessor within the grace window with the same successor and no alarm', async () => {
    const { engine, store, clock, events } = await createEngineFixture({ reuseGraceSeconds: 10 });
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const second = await engine.refresh({ refreshToken: must(first.refreshToken) });
    clock.advance(9_999);
    const replay = await engine.refresh({ refreshToken: must(first.refreshToken) });
    assert.equal(replay.refreshToken, second.refreshToken);
    assert.equal((await store.findSession(first.sessionId))?.generation, 2);
    assert.equal((await store.findSession(first.sessionId))?.revokedAtMs, null);
    assert.ok(!events.some((e) => e.type === 'session.reuse_detected'));
    await engine.authenticate(replay.accessToken);
  });

  it('treats the predecessor after the grace window as reuse: the session and its tokens end', async () => {
    const { engine, store, clock, events } = await createEngineFixture({ reuseGraceSeconds: 10 });
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const second = await engine.refresh({ refreshToken: must(first.refreshToken) });
    clock.advance(10_000);
    await rejectsWith(engine.refresh({ refreshToken: must(first.refreshToken) }), 'invalid_grant');
    const session = await store.findSession(first.sessionId);
    assert.equal(session?.revokeReason, 'reuse_detected');
    assert.ok(events.some((e) => e.type === 'session.reuse_detected' && e.sessionId === first.sessionId));
    // The thief's and the owner's tokens are both dead now.
    await rejectsWith(engine.refresh({ refreshToken: must(second.refreshToken) }), 'invalid_grant');
    await rejectsWith(engine.authenticate(second.accessToken), 'invalid_token');
  });

  it('does not stretch the grace window when the wall clock jumps back', async () => {
    const { engine, store, clock, events } = await createEngineFixture({
      reuseGraceSeconds: 10,
      clockLeewaySeconds: 2,
    });
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const rotatedAt = clock.now();
    const second = await engine.refresh({ refreshToken: must(first.refreshToken) });
    // Within the leeway a clock that stepped back still counts as "just rotated".
    clock.set(rotatedAt - 2_000);
    const replay = await engine.refresh({ refreshToken: must(first.refreshToken) });
    assert.equal(replay.refreshToken, second.refreshToken);
    // An hour back: the predecessor is not in its grace window for an hour; it is reuse.
    clock.set(rotatedAt - 3_600_000);
    await rejectsWith(engine.refresh({ refreshToken: must(first.refreshToken) }), 'invalid_grant');
    assert.equal((await store.findSession(first.sessionId))?.revokeReason, 'reuse_detected');
    assert.ok(events.some((e) => e.type === 'session.reuse_detected'));
  });

  it('reports the predecessor inactive to introspection once the clock jumped back past the leeway', async () => {
    const { engine, clock } = await createEngineFixture({ reuseGraceSeconds: 10, clockLeewaySeconds: 2 });
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const rotatedAt = clock.now();
    await engine.refresh({ refreshToken: must(first.refreshToken) });
    clock.set(rotatedAt - 2_001);
    assert.deepEqual(await engine.introspect(must(first.refreshToken)), { active: false });
    clock.set(rotatedAt - 2_000);
    assert.equal((await engine.introspect(must(first.refreshToken))).active, true);
  });

  it('treats any older generation as reuse even inside the grace window', async () => {
    const { engine, store } = await createEngineFixture({ reuseGraceSeconds: 10 });
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const second = await engine.refresh({ refreshToken: must(first.refreshToken) });
    await engine.refresh({ refreshToken: must(second.refreshToken) });
    await rejectsWith(engine.refresh({ refreshToken: must(first.refreshToken) }), 'invalid_grant');
    assert.equal((await store.findSession(first.sessionId))?.revokeReason, 'reuse_detected');
  });

  it('serves 50 concurrent refreshes of one token: all succeed with one successor, generation +1, no alarm', async () => {
    const { engine, store, events } = await createEngineFixture();
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const results = await Promise.all(
      Array.from({ length: 50 }, () => engine.refresh({ refreshToken: must(first.refreshToken) })),
    );
    assert.equal(new Set(results.map((r) => r.refreshToken)).size, 1);
    assert.equal((await store.findSession(first.sessionId))?.generation, 2);
    assert.equal(events.filter((e) => e.type === 'session.refreshed').length, 1);
    assert.ok(!events.some((e) => e.type === 'session.reuse_detected'));
  });

  it('refuses tokens it never issued without touching the session', async () => {
    const { engine, store } = await createEngineFixture();
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const before = await store.findSession(first.sessionId);
    const body = must(first.refreshToken).slice(REFRESH_TOKEN_PREFIX.length);
    const flipped = (i: number) => {
      const c = body[i] === 'A' ? 'B' : 'A';
      return REFRESH_TOKEN_PREFIX + body.slice(0, i) + c + body.slice(i + 1);
    };
    const parsed = parseRefreshToken(must(first.refreshToken));
    assert.ok(parsed);
    // A live session id and generation with a wrong MAC.
    const sessionBytes = Buffer.from(parsed.sessionId, 'base64url');
    const forgedMac = Buffer.concat([sessionBytes, Buffer.from([0, 0, 0, 1]), Buffer.alloc(32, 7)]);
    const candidates = [
      'tsr_garbage',
      `${REFRESH_TOKEN_PREFIX}${'A'.repeat(70)}`,
      flipped(5),
      flipped(30),
      flipped(69),
      REFRESH_TOKEN_PREFIX + forgedMac.toString('base64url'),
      first.accessToken,
      '',
    ];
    for (const token of candidates) {
      await rejectsWith(engine.refresh({ refreshToken: token }), 'invalid_grant');
      await rejectsWith(engine.logoutWithRefreshToken(token), 'invalid_grant');
    }
    assert.deepEqual(await store.findSession(first.sessionId), before);
    await engine.refresh({ refreshToken: must(first.refreshToken) });
  });
});

describe('session timeouts', () => {
  it('slides the idle timeout with each refresh, exact to the millisecond', async () => {
    const { engine, clock } = await createEngineFixture({
      refreshIdleTtlSeconds: 100,
      refreshAbsoluteTtlSeconds: 1000,
    });
    let tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    clock.advance(99_999);
    tokens = await engine.refresh({ refreshToken: must(tokens.refreshToken) });
    clock.advance(99_999);
    tokens = await engine.refresh({ refreshToken: must(tokens.refreshToken) });
    clock.advance(100_000);
    await rejectsWith(engine.refresh({ refreshToken: must(tokens.refreshToken) }), 'invalid_grant');
  });

  it('ends the session at the absolute lifetime whatever the activity', async () => {
    const { engine, clock } = await createEngineFixture({
      refreshIdleTtlSeconds: 100,
      refreshAbsoluteTtlSeconds: 300,
    });
    let tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    for (let i = 0; i < 3; i += 1) {
      clock.advance(90_000);
      tokens = await engine.refresh({ refreshToken: must(tokens.refreshToken) });
    }
    // 270 s in: the idle expiry is capped by the absolute one at 300 s.
    assert.equal(tokens.refreshExpiresAt.getTime() - clock.now(), 30_000);
    clock.advance(29_999);
    tokens = await engine.refresh({ refreshToken: must(tokens.refreshToken) });
    clock.advance(1);
    await rejectsWith(engine.refresh({ refreshToken: must(tokens.refreshToken) }), 'invalid_grant');
  });

  it('refuses refresh past the maximum login age', async () => {
    const { engine, clock } = await createEngineFixture({ maxLoginAgeSeconds: 200 });
    let tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    clock.advance(199_000);
    tokens = await engine.refresh({ refreshToken: must(tokens.refreshToken) });
    clock.advance(1_000);
    await rejectsWith(engine.refresh({ refreshToken: must(tokens.refreshToken) }), 'invalid_grant');
  });

  it('rejects an access token at its expiry plus the leeway, not before', async () => {
    const { engine, clock } = await createEngineFixture({ accessTtlSeconds: 60, clockLeewaySeconds: 2 });
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    clock.advance(61_999);
    await engine.authenticate(tokens.accessToken);
    clock.advance(1_001);
    await rejectsWith(engine.authenticate(tokens.accessToken), 'invalid_token');
  });
});
