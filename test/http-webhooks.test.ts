import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { WEBHOOK_RETRY_DELAYS_SECONDS } from '@tessera/core';
import { TESSERA_BIN } from './helpers/child-server.ts';
import { call, PASSWORD, registerUser, startTestServer, type TestServer } from './helpers/server.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

const run = promisify(execFile);

let t: TestServer;
let receiver: WebhookReceiver;

before(async () => {
  receiver = await startWebhookReceiver(() => t.clock.now());
  t = await startTestServer({ TESSERA_WEBHOOK_URL: receiver.url, TESSERA_WEBHOOK_SECRET: receiver.secret });
});
afterEach(() => {
  receiver.mode = 'ok';
});
after(async () => {
  await t.close();
  await receiver.close();
  assert.deepEqual(receiver.rejected, [], 'every delivery verified with Webhook.verify');
});

/** Runs a delivery pass now (after the one the write woke, if it is still going). */
const deliver = () => t.server.engine.deliverWebhooks();

/** The outbox event of `type` whose data matches, in whatever state. */
async function eventOf(type: string, match: (data: Record<string, unknown>) => boolean) {
  for (const state of ['pending', 'delivered', 'dead'] as const) {
    const found = (await t.server.engine.listWebhookEvents(state, 1000)).find(
      (e) => e.type === type && match(e.data),
    );
    if (found) return found;
  }
  throw new Error(`no ${type} event`);
}

describe('webhook delivery over HTTP', () => {
  it('retries an event the receiver refused with 500, under the same webhook-id, 5 s later', async () => {
    receiver.mode = 'fail';
    await registerUser(t.url, 'fails-first@example.com');
    await deliver();
    const failed = await eventOf('user.created', (d) => d.email === 'fails-first@example.com');
    assert.deepEqual([failed.state, failed.attempts, failed.lastError], ['pending', 1, 'HTTP 500']);
    const refusedAttempt = receiver.attempts.find((e) => e.id === failed.id);
    assert.ok(refusedAttempt, 'the refused attempt reached the receiver, verified');
    receiver.mode = 'ok';
    t.clock.advance(4_000);
    await deliver();
    assert.ok(!receiver.accepted.some((e) => e.id === failed.id), 'not before its retry time');
    t.clock.advance(1_500);
    await deliver();
    const delivered = await receiver.next((e) => e.id === failed.id);
    assert.equal(delivered.data.email, 'fails-first@example.com');
    assert.equal(delivered.timestamp, refusedAttempt?.timestamp, 'the same event');
    assert.equal(delivered.timestampSeconds, Math.floor(t.clock.now() / 1000), 'signed at the retry');
    assert.equal(
      (await eventOf('user.created', (d) => d.email === 'fails-first@example.com')).state,
      'delivered',
    );
  });

  it('loses no event while the receiver is down for a minute', async () => {
    await receiver.down();
    const start = t.clock.now();
    const user = await registerUser(t.url, 'while-down@example.com');
    await call(t.url, 'POST', '/auth/login', {
      json: { email: 'while-down@example.com', password: PASSWORD },
    });
    await call(t.url, 'POST', '/auth/logout', { json: { refresh_token: user.refresh_token } });
    await deliver();
    const ids = (await t.server.engine.listWebhookEvents('pending', 1000))
      .filter((e) => e.createdAt.getTime() >= start)
      .map((e) => e.id);
    assert.equal(ids.length, 4, 'user.created, two session.created, session.revoked');
    for (const view of await t.server.engine.listWebhookEvents('pending', 1000)) {
      if (ids.includes(view.id)) assert.match(view.lastError ?? '', /ECONNREFUSED/);
    }
    t.clock.set(start + 5_500);
    await deliver();
    t.clock.set(start + 60_000);
    await receiver.up();
    await deliver();
    assert.ok(
      !receiver.accepted.some((e) => ids.includes(e.id)),
      'the third attempt is due 5 min after the second',
    );
    t.clock.set(start + 5_500 + 300_000 * 1.1);
    await deliver();
    const got = receiver.accepted.filter((e) => ids.includes(e.id));
    assert.deepEqual(got.map((e) => e.id).sort(), [...ids].sort(), 'every event, once');
    assert.deepEqual(got.map((e) => e.type).sort(), [
      'session.created',
      'session.created',
      'session.revoked',
      'user.created',
    ]);
  });

  it('dead-letters after the last retry; the admin route lists (tokens redacted) and replays', async () => {
    await registerUser(t.url, 'dead@example.com');
    await deliver();
    receiver.mode = 'fail';
    await call(t.url, 'POST', '/auth/password/forgot', { json: { email: 'dead@example.com' } });
    await deliver();
    for (const delay of WEBHOOK_RETRY_DELAYS_SECONDS) {
      t.clock.advance(delay * 1100);
      await deliver();
    }
    const list = await call(t.url, 'GET', '/admin/webhooks?state=dead');
    assert.equal(list.status, 200);
    const dead = list.body.events.find(
      (e: { type: string; data: { email: string } }) =>
        e.type === 'password_reset.requested' && e.data.email === 'dead@example.com',
    );
    assert.ok(dead, JSON.stringify(list.body).slice(0, 300));
    assert.equal(dead.attempts, 8);
    assert.equal(dead.last_error, 'HTTP 500');
    assert.equal(dead.next_attempt_at, null);
    assert.equal(dead.data.token, '[redacted]');
    assert.ok(!list.text.includes('sealed_token'));
    const attempts = receiver.attempts.filter((e) => e.id === dead.id);
    assert.equal(attempts.length, 8);
    const failures = t.events.filter((e) => e.type === 'webhook.failed' && e.eventId === dead.id);
    assert.deepEqual(
      failures.map((e) => (e.type === 'webhook.failed' ? [e.attempt, e.dead, e.error] : [])),
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => [n, n === 8, 'HTTP 500']),
      'each failure is reported (the standalone server logs the dead one and counts them all)',
    );
    assert.equal(new Set(attempts.map((e) => e.data.token)).size, 1, 'the same token every time');

    receiver.mode = 'ok';
    const bad = await call(t.url, 'GET', '/admin/webhooks?state=lost');
    assert.deepEqual([bad.status, bad.body.error], [400, 'invalid_request']);
    const missing = await call(t.url, 'POST', `/admin/webhooks/msg_${'x'.repeat(22)}/replay`);
    assert.deepEqual([missing.status, missing.body.error], [404, 'not_found']);
    const replay = await call(t.url, 'POST', `/admin/webhooks/${dead.id}/replay`);
    assert.equal(replay.status, 204);
    const delivered = await receiver.next((e) => e.id === dead.id);
    assert.equal(delivered.data.token, attempts[0]?.data.token);
    // A replay delivers the event as it was: its token expired during the 33 hours of retries.
    const reset = await call(t.url, 'POST', '/auth/password/reset', {
      json: { token: delivered.data.token, new_password: 'a replayed reset fails' },
    });
    assert.deepEqual([reset.status, reset.body.error], [400, 'invalid_one_time_token']);
  });

  it('serves the admin routes to the service token only when one is set', async () => {
    const serviceToken = randomBytes(24).toString('base64url');
    const guarded = await startTestServer({
      TESSERA_WEBHOOK_URL: receiver.url,
      TESSERA_WEBHOOK_SECRET: receiver.secret,
      TESSERA_SERVICE_TOKEN: serviceToken,
    });
    try {
      const anonymous = await call(guarded.url, 'GET', '/admin/webhooks');
      assert.equal(anonymous.status, 401);
      const wrong = await call(guarded.url, 'POST', '/admin/webhooks/msg_x/replay', {
        token: 'x'.repeat(32),
      });
      assert.deepEqual([wrong.status, wrong.body.error], [401, 'invalid_token']);
      const ok = await call(guarded.url, 'GET', '/admin/webhooks?state=pending&limit=5', {
        token: serviceToken,
      });
      assert.deepEqual([ok.status, ok.body], [200, { events: [] }]);
    } finally {
      await guarded.close();
    }
  });
});

describe('tessera webhooks (CLI)', () => {
  it('lists dead events and replays one, against the server’s database', async () => {
    const dataDir = t.dataDir;
    const env = { ...process.env, TESSERA_DATA_DIR: dataDir, TESSERA_LOG_LEVEL: 'warn' };
    const tessera = (args: string[]) =>
      run(process.execPath, ['--conditions=@tessera/source', TESSERA_BIN, ...args], { env });
    receiver.mode = 'fail';
    await registerUser(t.url, 'cli-dead@example.com');
    await deliver();
    for (const delay of WEBHOOK_RETRY_DELAYS_SECONDS) {
      t.clock.advance(delay * 1100);
      await deliver();
    }
    const listed = await tessera(['webhooks', 'list', '--dead']);
    const line = listed.stdout
      .split('\n')
      .find((l) => l.includes('cli-dead@example.com') && l.includes('user.created'));
    assert.ok(line, listed.stdout);
    const [id, type, state, attempts] = line.split('\t');
    assert.deepEqual([type, state, attempts], ['user.created', 'dead', 'attempts 8']);
    assert.match(line, /last error: HTTP 500/);
    receiver.mode = 'ok';
    const replayed = await tessera(['webhooks', 'replay', id ?? '']);
    assert.match(replayed.stdout, /pending again/);
    // The running server's worker polls the outbox: the replay reaches the receiver without a wake-up.
    await receiver.next((e) => e.id === id, 10_000);
    await assert.rejects(
      tessera(['webhooks', 'replay', 'msg_none']),
      /no dead or delivered webhook event msg_none/,
    );
    await assert.rejects(
      tessera(['webhooks', 'list', '--state', 'lost']),
      /--state must be pending, delivered or dead/,
    );
    const dead = await tessera(['webhooks', 'list', '--state', 'dead', '--limit', '1000']);
    assert.ok(!dead.stdout.includes(id ?? '-'), 'the replayed event is no longer dead');
    assert.match(dead.stdout, /session\.created\tdead\tattempts 8/, 'the one not replayed still is');
  });
});
