import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { createTesseraClient } from './create-client.ts';
import type { SessionPolicy } from './policies.ts';
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

/** A body-transport client of `fetchImpl` on the fake clock `now`; listens for session ends. */
function bodyClient(fetchImpl: typeof fetch, now: () => number, policy?: SessionPolicy) {
  const client = createTesseraClient({
    baseUrl: 'http://x',
    transport: 'body',
    fetch: fetchImpl,
    now,
    ...(policy ? { policy } : {}),
  });
  const ended = mock.fn();
  client.on('sessionEnded', ended);
  return { client, ended };
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
      const { client, ended } = bodyClient(server.fetch, () => clock);
      await client.login('a@example.com', 'pw');
      clock = 200_000;
      assert.equal(await client.getAccessToken(), null);
      assert.deepEqual(ended.mock.calls[0]?.arguments, [{ reason }]);
      assert.equal(client.state().signedIn, false);
      client.close();
    }
  });
});

/** Installs a fake page (document, window listeners, BroadcastChannel) that counts what is attached. */
function fakePage() {
  const saved = {
    document: Object.getOwnPropertyDescriptor(globalThis, 'document'),
    addEventListener: Object.getOwnPropertyDescriptor(globalThis, 'addEventListener'),
    removeEventListener: Object.getOwnPropertyDescriptor(globalThis, 'removeEventListener'),
    BroadcastChannel: Object.getOwnPropertyDescriptor(globalThis, 'BroadcastChannel'),
  };
  const attached = new Map<string, number>();
  const counting = (prefix: string) => ({
    addEventListener(type: string) {
      attached.set(`${prefix}:${type}`, (attached.get(`${prefix}:${type}`) ?? 0) + 1);
    },
    removeEventListener(type: string) {
      attached.set(`${prefix}:${type}`, (attached.get(`${prefix}:${type}`) ?? 0) - 1);
    },
  });
  let openChannels = 0;
  class FakeChannel {
    onmessage: unknown = null;
    constructor() {
      openChannels += 1;
    }
    postMessage() {}
    close() {
      openChannels -= 1;
    }
  }
  const windowListeners = counting('window');
  Object.defineProperty(globalThis, 'document', {
    configurable: true,
    value: { visibilityState: 'visible', ...counting('document') },
  });
  Object.defineProperty(globalThis, 'addEventListener', {
    configurable: true,
    value: windowListeners.addEventListener,
  });
  Object.defineProperty(globalThis, 'removeEventListener', {
    configurable: true,
    value: windowListeners.removeEventListener,
  });
  Object.defineProperty(globalThis, 'BroadcastChannel', { configurable: true, value: FakeChannel });
  return {
    attached: () => [...attached.values()].reduce((sum, n) => sum + n, 0),
    types: () => [...attached.entries()].filter(([, n]) => n > 0).map(([type]) => type),
    openChannels: () => openChannels,
    restore() {
      for (const [name, descriptor] of Object.entries(saved)) {
        if (descriptor) Object.defineProperty(globalThis, name, descriptor);
        else delete (globalThis as Record<string, unknown>)[name];
      }
    },
  };
}

describe('client close()', () => {
  it('removes every page listener, closes its tab channel and stops its timers', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const page = fakePage();
    try {
      const server = fakeServer({ expiresIn: 100 });
      const client = createTesseraClient({
        baseUrl: 'http://x',
        transport: 'body',
        fetch: server.fetch,
        now: () => 0,
      });
      assert.deepEqual(page.types().sort(), ['document:visibilitychange', 'window:focus', 'window:online']);
      assert.equal(page.openChannels(), 1);
      await client.login('a@example.com', 'pw');
      const renewed = mock.fn();
      client.on('tokenRenewed', renewed);
      client.close();
      assert.equal(page.attached(), 0, 'every listener added was removed');
      assert.equal(page.openChannels(), 0);
      t.mock.timers.tick(200_000);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(server.refreshes(), 0, 'no renewal timer survives close()');
      assert.equal(renewed.mock.callCount(), 0);
    } finally {
      page.restore();
    }
  });
});

describe('client policies (timers)', () => {
  const tokens = (body: Record<string, unknown>) => {
    const calls: string[] = [];
    let issued = 0;
    return {
      calls,
      fetch: async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
        const url = new URL(String(input));
        calls.push(
          `${init?.method ?? 'GET'} ${url.pathname} ${new Headers(init?.headers).get('authorization') ?? ''}`,
        );
        issued += 1;
        return json(200, { token_type: 'Bearer', access_token: `a${issued}`, ...body });
      },
    };
  };

  it('soft-expiry: renews at /auth/renew with the token when the soft life ends, not before', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let clock = 0;
    const server = tokens({ expires_in: 3600, soft_expires_in: 600 });
    const { client } = bodyClient(server.fetch, () => clock, 'soft-expiry');
    await client.login('a@example.com', 'pw');
    clock = 599_999;
    t.mock.timers.tick(599_999);
    assert.equal(server.calls.length, 1);
    assert.equal(await client.getAccessToken(), 'a1', 'not due before the soft expiry');
    clock = 600_000;
    t.mock.timers.tick(1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(server.calls.slice(1), ['POST /auth/renew Bearer a1']);
    assert.equal(await client.getAccessToken(), 'a2');
    client.close();
  });

  it('long-lived-token: never renews, and ends the session when the token expires, even past setTimeout’s range', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    let clock = 0;
    const day = 86_400_000;
    // Moves the fake clock and the mocked timers together.
    const advanceTo = (ms: number) => {
      const by = ms - clock;
      clock = ms;
      t.mock.timers.tick(by);
    };
    const server = tokens({ expires_in: 90 * 86_400 });
    const { client, ended } = bodyClient(server.fetch, () => clock, 'long-lived-token');
    await client.login('a@example.com', 'pw');
    for (const days of [30, 60, 89]) {
      advanceTo(days * day); // setTimeout's range ends at 24.8 days: the timer is re-armed on the way
      assert.equal(await client.getAccessToken(), 'a1', `day ${days}`);
      assert.equal(ended.mock.callCount(), 0);
    }
    advanceTo(90 * day);
    assert.deepEqual(ended.mock.calls[0]?.arguments, [{ reason: 'expired' }]);
    assert.equal(await client.getAccessToken(), null);
    assert.equal(server.calls.length, 1, 'only the login');
    client.close();
  });
});
