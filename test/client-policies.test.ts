import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createTesseraClient, type SessionPolicy, type TesseraClient } from '@tessera/client';
import { PASSWORD, startTestServer, type TestServer } from './helpers/server.ts';

// Each policy against a real server in Node (body transport, as a CLI or a mobile app uses it). The
// client's monotonic clock follows the server's manual clock, so renewals are driven by the calls the
// test makes, never by sleeping.
const servers: TestServer[] = [];
const clients: TesseraClient[] = [];
after(async () => {
  for (const client of clients) client.close();
  await Promise.all(servers.map((s) => s.close()));
});

async function setup(policy: SessionPolicy, env: Record<string, string> = {}) {
  const t = await startTestServer({
    TESSERA_POLICY: policy,
    TESSERA_REFRESH_IDLE_TTL: '1h',
    TESSERA_REFRESH_ABSOLUTE_TTL: '30d',
    ...env,
  });
  servers.push(t);
  const requests: string[] = [];
  // How far the client's clock has fallen behind the server's since sign-in (a slow clock).
  const drift = { ms: 0 };
  const client = createTesseraClient({
    baseUrl: t.url,
    policy,
    transport: 'body',
    now: () => t.clock.now() - drift.ms,
    fetch: (input, init) => {
      const path = new URL(String(input)).pathname;
      if (path.startsWith('/auth/')) requests.push(path);
      return fetch(input, init);
    },
  });
  clients.push(client);
  const ended: string[] = [];
  client.on('sessionEnded', ({ reason }) => ended.push(reason));
  await client.register(`${policy}${Math.random().toString(36).slice(2)}@example.com`, PASSWORD);
  const me = async () => (await client.fetch(`${t.url}/auth/me`)).status;
  const renewals = () => t.events.filter((e) => e.type === 'session.refreshed').length;
  const alarms = () => t.events.filter((e) => e.type === 'session.reuse_detected').length;
  return { t, client, requests, ended, me, renewals, alarms, drift };
}

describe('@tessera/client with every policy, against a real server', () => {
  it('rotating-refresh: refreshes when due and after expiry, one request for many callers', async () => {
    const { t, client, requests, ended, me, alarms } = await setup('rotating-refresh', {
      TESSERA_ACCESS_TTL: '10m',
    });
    const first = await client.getAccessToken();
    t.clock.advance(481_000); // past 80 % of the life
    const tokens = await Promise.all(Array.from({ length: 10 }, () => client.getAccessToken()));
    assert.equal(new Set(tokens).size, 1);
    assert.notEqual(tokens[0], first);
    assert.equal(requests.filter((p) => p === '/auth/refresh').length, 1);
    t.clock.advance(700_000); // past expiry
    assert.equal(await me(), 200);
    assert.equal(alarms(), 0);
    await client.logout();
    assert.deepEqual(ended, ['logout']);
    assert.equal(await me(), 401);
  });

  it('soft-expiry: renews at /auth/renew at the soft expiry, or once on a 401 token_soft_expired, and never twice', async () => {
    const env = { TESSERA_ACCESS_TTL: '1h', TESSERA_SOFT_TTL: '10m' };
    const { t, client, requests, ended, me, renewals, alarms } = await setup('soft-expiry', env);
    assert.equal(await me(), 200);
    t.clock.advance(600_000);
    const tokens = await Promise.all(Array.from({ length: 10 }, () => client.getAccessToken()));
    assert.equal(new Set(tokens).size, 1);
    assert.equal(renewals(), 1, 'one renewal for ten callers (a second would be a replay)');
    assert.equal(await me(), 200);

    // A client whose clock ran 5 s slow sends its token past the soft expiry: the server's 401
    // token_soft_expired makes it renew once and retry.
    const late = await setup('soft-expiry', env);
    late.drift.ms = 5000;
    late.t.clock.advance(601_000);
    assert.equal(await late.me(), 200);
    assert.deepEqual(late.requests, ['/auth/register', '/auth/me', '/auth/renew', '/auth/me']);
    assert.equal(late.alarms(), 0);

    // Logging out with a soft-expired token renews it first, so the session really ends.
    t.clock.advance(600_000);
    await client.logout();
    assert.equal(requests.at(-2), '/auth/renew');
    assert.equal(requests.at(-1), '/auth/logout');
    assert.deepEqual(ended, ['logout']);
    assert.equal(alarms(), 0);
    assert.equal(
      t.events.filter((e) => e.type === 'session.revoked').length,
      1,
      'the session ended at the server',
    );
  });

  it('sliding-single-token: takes the renewed token from Tessera-Access-Token on any response, and ends at expiry when idle', async () => {
    const { t, client, requests, ended } = await setup('sliding-single-token', { TESSERA_ACCESS_TTL: '10m' });
    const first = await client.getAccessToken();
    assert.equal((await client.fetch(`${t.url}/auth/me`)).headers.get('tessera-access-token'), null);
    let current = first;
    for (let i = 0; i < 8; i += 1) {
      t.clock.advance(400_000); // past half the life: the server renews on the next response
      const response = await client.fetch(`${t.url}/auth/sessions`);
      assert.equal(response.status, 200, `lifetime ${i}`);
      const next = await client.getAccessToken();
      assert.notEqual(next, current, `renewed in lifetime ${i}`);
      current = next;
    }
    assert.ok(!requests.includes('/auth/refresh') && !requests.includes('/auth/renew'), 'no renewal request');
    t.clock.advance(601_000);
    assert.equal(await client.getAccessToken(), null, 'an idle user’s token expires');
    assert.deepEqual(ended, ['expired']);
  });

  it('expired-token-exchange: exchanges the expired token with the session token once, and logs out with it', async () => {
    const { t, client, requests, ended, me, renewals, alarms } = await setup('expired-token-exchange', {
      TESSERA_ACCESS_TTL: '5m',
    });
    assert.equal(await me(), 200);
    t.clock.advance(240_000);
    assert.equal(await me(), 200);
    assert.equal(renewals(), 0, 'an unexpired token is never exchanged');
    t.clock.advance(61_000);
    const tokens = await Promise.all(Array.from({ length: 10 }, () => client.getAccessToken()));
    assert.equal(new Set(tokens).size, 1);
    assert.equal(renewals(), 1, 'one exchange for ten callers (a second would be a replay)');
    assert.equal(await me(), 200);
    assert.equal(alarms(), 0);
    await client.logout();
    assert.deepEqual(ended, ['logout']);
    assert.equal(requests.at(-1), '/auth/logout');
    assert.equal(await me(), 401);
  });

  it('long-lived-token: no renewal for days, and the session ends for the client when the token expires', async () => {
    // The engine refuses an idle timeout shorter than the one token's life: nothing renews the session.
    const { t, client, requests, ended, me } = await setup('long-lived-token', {
      TESSERA_REFRESH_IDLE_TTL: '7d',
    });
    t.clock.advance(6 * 86_400_000);
    assert.equal(await me(), 200);
    assert.deepEqual(requests, ['/auth/register', '/auth/me']);
    t.clock.advance(86_400_000 + 1000);
    assert.equal(await client.getAccessToken(), null);
    assert.deepEqual(ended, ['expired']);
  });
});
