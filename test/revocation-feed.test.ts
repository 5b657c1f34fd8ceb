import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, registerUser, startTestServer, type TestServer } from './helpers/server.ts';

const SERVICE_TOKEN = 'service-token-for-tests-0123456789abcdef';
let t: TestServer;
before(async () => {
  t = await startTestServer({
    TESSERA_SERVICE_TOKEN: SERVICE_TOKEN,
    TESSERA_ACCESS_TTL: '60s',
    TESSERA_CLOCK_LEEWAY: '2s',
  });
});
after(async () => {
  await t.close();
});
const auth = { authorization: `Bearer ${SERVICE_TOKEN}` };

/** Reads server-sent events from a stream until `until` says stop (bounded by `maxEvents`). */
async function readEvents(
  response: Response,
  until: (events: Array<{ event: string; id?: string; data: unknown }>) => boolean,
  maxEvents = 50,
) {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const events: Array<{ event: string; id?: string; data: unknown }> = [];
  let buffer = '';
  while (events.length < maxEvents && !until(events)) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let split = buffer.indexOf('\n\n');
    while (split >= 0) {
      const block = buffer.slice(0, split);
      buffer = buffer.slice(split + 2);
      const event = { event: 'message', data: null as unknown } as {
        event: string;
        id?: string;
        data: unknown;
      };
      let hasData = false;
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event.event = line.slice(7);
        if (line.startsWith('id: ')) event.id = line.slice(4);
        if (line.startsWith('data: ')) {
          event.data = JSON.parse(line.slice(6));
          hasData = true;
        }
      }
      if (hasData) events.push(event);
      split = buffer.indexOf('\n\n');
    }
  }
  await reader.cancel();
  return events;
}

describe('revocation feed', () => {
  it('requires the service token when one is configured', async () => {
    const none = await call(t.url, 'GET', '/auth/revocations');
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="tessera"');
    const wrong = await call(t.url, 'GET', '/auth/revocations', {
      headers: { authorization: 'Bearer nope' },
    });
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /invalid_token/);
    const introspect = await call(t.url, 'POST', '/oauth/introspect', { json: { token: 'x' } });
    assert.equal(introspect.status, 401);
  });

  it('lists live revocations in the snapshot and drops them once no token can match', async () => {
    const user = await registerUser(t.url);
    await call(t.url, 'POST', '/auth/logout', { json: { refresh_token: user.refresh_token } });
    const snapshot = await call(t.url, 'GET', '/auth/revocations', { headers: auth });
    assert.equal(snapshot.status, 200);
    assert.match(snapshot.body.cursor, /^\d+-\d+$/);
    const entry = snapshot.body.revocations.find((r: { sid?: string }) => r.sid === user.session_id);
    assert.ok(entry, 'the ended session is listed');
    assert.equal(entry.type, 'session');
    assert.equal(entry.until_ms - entry.at_ms, 62_000);
    t.clock.advance(62_000);
    const later = await call(t.url, 'GET', '/auth/revocations', { headers: auth });
    assert.ok(!later.body.revocations.some((r: { sid?: string }) => r.sid === user.session_id));
  });

  it('streams revocations as they happen, with heartbeats, and resumes from a cursor', async () => {
    const user = await registerUser(t.url);
    const snapshot = await call(t.url, 'GET', '/auth/revocations', { headers: auth });
    const stream = await fetch(`${t.url}/auth/revocations/stream`, { headers: auth });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reading = readEvents(stream, (events) => events.some((e) => e.event === 'revocation'));
    await call(t.url, 'POST', '/auth/logout-all', { token: user.access_token });
    const events = await reading;
    assert.equal(events[0]?.event, 'heartbeat');
    const revocation = events.find((e) => e.event === 'revocation');
    assert.ok(revocation);
    assert.equal((revocation.data as { sid: string }).sid, user.session_id);

    // Resuming from the snapshot's cursor replays what came after it.
    const resumed = await fetch(`${t.url}/auth/revocations/stream`, {
      headers: { ...auth, 'last-event-id': snapshot.body.cursor },
    });
    const replay = await readEvents(resumed, (e) => e.some((x) => x.event === 'revocation'));
    assert.ok(
      replay.some((e) => e.event === 'revocation' && (e.data as { sid: string }).sid === user.session_id),
    );

    // A cursor older than the feed's memory asks the client for a new snapshot.
    const stale = await fetch(`${t.url}/auth/revocations/stream?cursor=1000-1`, { headers: auth });
    const reset = await readEvents(stale, (e) => e.some((x) => x.event === 'reset'));
    assert.ok(reset.some((e) => e.event === 'reset'));
  });

  it('publishes token-version bumps and emergency revoke-all', async () => {
    const user = await registerUser(t.url);
    await t.server.engine.updateUser((await t.server.engine.authenticate(user.access_token)).user.id, {
      roles: ['admin'],
    });
    await t.server.engine.emergencyRevokeAll();
    const snapshot = await call(t.url, 'GET', '/auth/revocations', { headers: auth });
    const types = snapshot.body.revocations.map((r: { type: string }) => r.type);
    assert.ok(types.includes('user'));
    assert.ok(types.includes('global'));
    const bump = snapshot.body.revocations.find(
      (r: { type: string; min_ver?: number }) => r.type === 'user' && r.min_ver === 2,
    );
    assert.ok(bump);
  });
});
