import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { createTesseraClient } from './create-client.ts';
import { renewalDelayMs } from './scheduler.ts';
import { singleFlight } from './single-flight.ts';

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

/** A fake server: counts refreshes, hands out numbered tokens. */
function fakeServer(options: { expiresIn?: number; refreshStatus?: number; refreshBody?: unknown } = {}) {
  let refreshes = 0;
  let issued = 0;
  const calls: string[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    calls.push(`${init?.method ?? 'GET'} ${url} ${new Headers(init?.headers).get('authorization') ?? ''}`);
    if (url.endsWith('/auth/login')) {
      issued += 1;
      return json(200, {
        token_type: 'Bearer',
        access_token: `a${issued}`,
        expires_in: options.expiresIn ?? 100,
        refresh_token: `r${issued}`,
      });
    }
    if (url.endsWith('/auth/refresh')) {
      refreshes += 1;
      await new Promise((resolve) => setImmediate(resolve));
      if (options.refreshStatus) return json(options.refreshStatus, options.refreshBody ?? {});
      issued += 1;
      return json(200, {
        token_type: 'Bearer',
        access_token: `a${issued}`,
        expires_in: options.expiresIn ?? 100,
        refresh_token: `r${issued}`,
      });
    }
    return json(200, { ok: true });
  };
  return { fetch: fetchImpl, calls, refreshes: () => refreshes };
}

/** Wraps the fake server with an `/api` route that always answers 401 with `challenge`. */
function answering401(server: ReturnType<typeof fakeServer>, challenge: string) {
  let calls = 0;
  return {
    calls: () => calls,
    fetch: async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      if (!String(input).endsWith('/api')) return server.fetch(input, init);
      calls += 1;
      return new Response('{}', { status: 401, headers: { 'www-authenticate': challenge } });
    },
  };
}

describe('scheduler', () => {
  it('renews between 70 % and 80 % of the stated life, whatever the wall clock says', () => {
    assert.equal(renewalDelayMs(600, 0), 480_000);
    assert.equal(renewalDelayMs(600, 0.999999), 420_000);
    for (let i = 0; i < 100; i += 1) {
      const delay = renewalDelayMs(600, Math.random());
      assert.ok(delay >= 420_000 && delay <= 480_000);
    }
    assert.equal(renewalDelayMs(-5, 0.5), 0);
  });
});

describe('single flight', () => {
  it('runs the task once for 100 concurrent callers', async () => {
    let runs = 0;
    const once = singleFlight(async () => {
      runs += 1;
      await new Promise((resolve) => setImmediate(resolve));
      return runs;
    });
    const results = await Promise.all(Array.from({ length: 100 }, () => once()));
    assert.equal(runs, 1);
    assert.deepEqual(new Set(results), new Set([1]));
    await once();
    assert.equal(runs, 2, 'a later call runs again');
  });
});

describe('client', () => {
  it('refreshes proactively on its timer, from expires_in', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let clock = 0;
    const server = fakeServer({ expiresIn: 100 });
    const client = createTesseraClient({
      baseUrl: 'http://x',
      transport: 'body',
      fetch: server.fetch,
      now: () => clock,
      random: () => 0,
    });
    const renewed: number[] = [];
    client.on('tokenRenewed', ({ expiresIn }) => renewed.push(expiresIn));
    await client.login('a@example.com', 'pw');
    assert.equal(client.state().signedIn, true);
    clock = 79_999;
    t.mock.timers.tick(79_999);
    assert.equal(server.refreshes(), 0);
    clock = 80_000;
    t.mock.timers.tick(1);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(server.refreshes(), 1);
    assert.deepEqual(renewed, [100]);
    client.close();
  });

  it('shares one refresh among concurrent callers of an expired token', async () => {
    let clock = 0;
    const server = fakeServer();
    const client = createTesseraClient({
      baseUrl: 'http://x',
      transport: 'body',
      fetch: server.fetch,
      now: () => clock,
    });
    await client.login('a@example.com', 'pw');
    clock = 200_000;
    const tokens = await Promise.all(Array.from({ length: 50 }, () => client.getAccessToken()));
    assert.equal(server.refreshes(), 1);
    assert.equal(new Set(tokens).size, 1);
    client.close();
  });

  it('retries once after a 401 invalid_token and never loops', async () => {
    const server = fakeServer();
    const api = answering401(server, 'Bearer error="invalid_token"');
    const fetchImpl = api.fetch;
    const client = createTesseraClient({
      baseUrl: 'http://x',
      transport: 'body',
      fetch: fetchImpl,
      now: () => 0,
    });
    await client.login('a@example.com', 'pw');
    const response = await client.fetch('http://x/api');
    assert.equal(response.status, 401);
    assert.equal(api.calls(), 2, 'one call, one retry');
    assert.equal(server.refreshes(), 1);
    client.close();
  });

  it('does not retry a 401 that is not about the token', async () => {
    const server = fakeServer();
    const api = answering401(server, 'Bearer realm="x"');
    const fetchImpl = api.fetch;
    const client = createTesseraClient({
      baseUrl: 'http://x',
      transport: 'body',
      fetch: fetchImpl,
      now: () => 0,
    });
    await client.login('a@example.com', 'pw');
    await client.fetch('http://x/api');
    assert.equal(api.calls(), 1);
    assert.equal(server.refreshes(), 0);
    client.close();
  });

  it('reports why a session ended', async () => {
    for (const [sessionEnded, reason] of [
      ['reuse_detected', 'reuse_detected'],
      ['revoked', 'revoked'],
      ['expired', 'expired'],
    ]) {
      let clock = 0;
      const server = fakeServer({
        refreshStatus: 400,
        refreshBody: { error: 'invalid_grant', session_ended: sessionEnded },
      });
      const client = createTesseraClient({
        baseUrl: 'http://x',
        transport: 'body',
        fetch: server.fetch,
        now: () => clock,
      });
      const ended = mock.fn();
      client.on('sessionEnded', ended);
      await client.login('a@example.com', 'pw');
      clock = 200_000;
      assert.equal(await client.getAccessToken(), null);
      assert.deepEqual(ended.mock.calls[0]?.arguments, [{ reason }]);
      assert.equal(client.state().signedIn, false);
      client.close();
    }
  });
});
