import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createEngine, createManualClock, createMemoryStore } from '@tessera/core';
import { createRevocationFeed } from './revocation-feed.ts';

const ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1, insecureForTests: true };

async function setup() {
  const wall = createManualClock(Date.UTC(2030, 0, 1));
  const steady = createManualClock(0);
  const engine = await createEngine({
    store: createMemoryStore(),
    secret: new Uint8Array(32).fill(3),
    issuer: 'http://127.0.0.1:4000',
    accessTtlSeconds: 60,
    clockLeewaySeconds: 2,
    argon2: ARGON2,
    rateLimits: false,
    clock: wall,
  });
  const feed = await createRevocationFeed({
    engine,
    clock: wall,
    steadyClock: steady,
    pollIntervalMs: 3_600_000,
  });
  const tokens = await engine.register({
    email: 'feed@example.com',
    password: 'correct horse battery staple',
  });
  await engine.logoutSession(tokens.sessionId);
  const listed = () => feed.snapshot().revocations.filter((r) => r.type === 'session').length;
  return { wall, steady, engine, feed, listed };
}

describe('revocation feed pruning', () => {
  it('drops an entry once both clocks passed its until_ms', async () => {
    const { wall, steady, engine, feed, listed } = await setup();
    assert.equal(listed(), 1);
    wall.advance(61_000);
    steady.advance(61_000);
    assert.equal(listed(), 1, 'still within access TTL + leeway');
    wall.advance(1_000);
    steady.advance(1_000);
    assert.equal(listed(), 0);
    feed.close();
    await engine.close();
  });

  it('keeps entries through a forward jump of the wall clock until the time has really passed', async () => {
    const { wall, steady, engine, feed, listed } = await setup();
    // The wall clock leaps a day ahead (a bad NTP step); a verifier started now must still see the entry.
    wall.advance(86_400_000);
    assert.equal(listed(), 1);
    steady.advance(30_000);
    assert.equal(listed(), 1);
    steady.advance(32_000);
    assert.equal(listed(), 0, 'gone once the access TTL and leeway really passed');
    feed.close();
    await engine.close();
  });

  it('keeps entries longer, never shorter, when the wall clock steps back', async () => {
    const { wall, steady, engine, feed, listed } = await setup();
    wall.advance(-3_600_000);
    steady.advance(62_000);
    assert.equal(listed(), 1, 'the wall clock says the tokens may still be valid');
    wall.advance(3_600_000 + 62_000);
    assert.equal(listed(), 0);
    feed.close();
    await engine.close();
  });

  it('ends its streams on close and counts them', async () => {
    const { engine, feed } = await setup();
    let closed = 0;
    const stream = feed.stream(undefined, () => {
      closed += 1;
    });
    assert.equal(feed.openStreams, 1);
    const reader = stream.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /^retry: 2000\n\nevent: heartbeat\n/);
    feed.close();
    assert.equal(closed, 1);
    assert.equal(feed.openStreams, 0);
    assert.equal((await reader.read()).done, true);
    await engine.close();
  });
});
