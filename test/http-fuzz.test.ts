import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ERROR_STATUS, POLICY_NAMES } from '@tessera/core';
import { SECURITY_HEADERS } from '@tessera/server';
import fc from 'fast-check';
import {
  bystanderProblem,
  type Fixtures,
  learnShapes,
  registerHolder,
  renewalProblem,
  setUpFixtures,
  valuesFor,
} from './fuzz/fixtures.ts';
import { exchange, type RawResponse } from './fuzz/raw-http.ts';
import { renderRequest } from './fuzz/render.ts';
import { type FuzzRequest, fuzzRequest, type RouteShape, SHAPES } from './fuzz/requests.ts';
import { openTableDump, storeSnapshot } from './fuzz/state.ts';
import { freePort } from './helpers/child-server.ts';
import { startTestServer, type TestServer } from './helpers/server.ts';

// HTTP fuzz: random methods, paths (every route the router holds, with random parameters, plus garbage
// and traversal), headers (forwarding, Host, Origin, content types, credentials real, expired, revoked
// and garbled, transports, cookies, lying lengths) and bodies (JSON of every shape, huge strings,
// controls, bidi, lone surrogates, invalid UTF-8, forms) against one server per policy. Properties:
// never a 5xx; the security headers on every answer; a stable error code on every failure; and a
// request that fails changes nothing in the store, and a session it had no credential of still works.
const ACCESS_TTL_SECONDS = 600;
const SERVICE_TOKEN = 'fuzz-service-token-0123456789abcdef';
// Bounded: a fixed number of runs per policy, and a time budget for all policies together.
const RUNS = Number(process.env.TESSERA_FUZZ_RUNS ?? 400);
const BUDGET_MS = Number(process.env.TESSERA_FUZZ_BUDGET_MS ?? 30_000);
const CODES = new Set(Object.keys(ERROR_STATUS));
const DEMO_PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

function problemsOf(response: RawResponse, head: boolean): string[] {
  const problems: string[] = [];
  if (response.status >= 500) problems.push(`status ${response.status}`);
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
    if (response.headers.get(name) !== value)
      problems.push(`header ${name}: ${response.headers.get(name) ?? 'missing'}`);
  }
  if (response.status >= 400 && !head && response.body.length > 0) {
    let error: unknown;
    try {
      error = (JSON.parse(response.body.toString('utf8')) as { error?: unknown }).error;
    } catch {
      problems.push('an error body that is not JSON');
    }
    // RFC 6750 §3.1: a request without credentials gets a challenge and no error code.
    const bareChallenge =
      response.status === 401 && /^Bearer/.test(response.headers.get('www-authenticate') ?? '');
    if (!(error === undefined && bareChallenge) && !CODES.has(String(error))) {
      problems.push(`error code ${JSON.stringify(error)}`);
    }
  }
  return problems;
}

/** What a response says, without a token: its status, error code and description. */
function describeResponse(response: RawResponse): string {
  if (response.status < 400) return String(response.status);
  return `${response.status} ${response.body.toString('utf8').slice(0, 300)}`;
}

/**
 * Sends one fuzzed request raw and checks what every property asks of the answers: the server answers
 * or closes (a lying length may end unanswered), and no answer has a problem (`ignore` drops the
 * problems a route is allowed). Counts the statuses; true when every answer was a failure (≥ 400).
 */
async function sendFuzzRequest(
  url: string,
  bytes: Buffer,
  request: FuzzRequest,
  statuses: Map<number, number>,
  ignore: (response: RawResponse, problem: string) => boolean = () => false,
): Promise<boolean> {
  const head = request.method === 'HEAD';
  // A declared length may be a lie: the client then half-closes, so a body shorter than declared
  // ends (and Node drops such a request unanswered). Every other request is answered.
  const lengthLie = typeof request.contentLength === 'number';
  const result = await exchange(url, bytes, { head, timeoutMs: 10_000, halfClose: lengthLie });
  assert.equal(result.timedOut, false, 'the server neither answered nor closed the connection');
  if (!lengthLie) assert.ok(result.responses.length > 0, 'the connection closed without an answer');
  for (const response of result.responses) {
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    const problems = problemsOf(response, head).filter((problem) => !ignore(response, problem));
    assert.deepEqual(problems, [], `answer ${describeResponse(response)}`);
  }
  return result.responses.every((response) => response.status >= 400);
}

/** The statuses seen, in order, as `status×count`. */
const statusSummary = (statuses: Map<number, number>): string =>
  [...statuses]
    .sort(([a], [b]) => a - b)
    .map(([status, count]) => `${status}×${count}`)
    .join(' ');

const started = performance.now();

describe('HTTP fuzz: every route under every policy', () => {
  const servers: TestServer[] = [];
  after(async () => {
    for (const server of servers) await server.close();
  });

  POLICY_NAMES.forEach((policy, index) => {
    // Half the servers serve service routes to loopback callers, half only with the service token.
    const withToken = index % 2 === 1;
    it(`${policy} (${withToken ? 'service token' : 'loopback service routes'})`, async () => {
      const t = await startTestServer({
        TESSERA_POLICY: policy,
        TESSERA_ACCESS_TTL: `${ACCESS_TTL_SECONDS}s`,
        ...(withToken ? { TESSERA_SERVICE_TOKEN: SERVICE_TOKEN } : {}),
      });
      servers.push(t);
      const { handler } = t.server;
      const routes: RouteShape[] = handler.routes.map((route) => ({
        method: route.method,
        path: `${route.root ? '' : handler.prefix}${route.path}`,
        auth: route.auth,
      }));
      const fixtures: Fixtures = await setUpFixtures(t, ACCESS_TTL_SECONDS, SERVICE_TOKEN);
      const accepted = await learnShapes(t, routes, SHAPES, fixtures);
      const tables = openTableDump(join(t.dataDir, 'tessera.db'));
      const host = new URL(t.url).host;
      const snapshot = async () => ({
        store: await storeSnapshot(t.server.store, fixtures.sessionIds, t.clock.now()),
        tables: tables.dump(),
      });
      let runs = 0;
      let failures = 0;
      const statuses = new Map<number, number>();
      const property = fc.asyncProperty(fuzzRequest(routes, accepted), async (request: FuzzRequest) => {
        runs += 1;
        const before = await snapshot();
        const bytes = renderRequest(request, routes, fixtures.values, host);
        if (await sendFuzzRequest(t.url, bytes, request, statuses)) {
          failures += 1;
          assert.deepEqual(await snapshot(), before, 'a failed request changed the store');
          // Its access token after every failed request; a refresh (a durable write, slower) every tenth.
          assert.equal(await bystanderProblem(t, fixtures, { refresh: failures % 10 === 0 }), null);
          return;
        }
        // The request succeeded: whatever it changed may stand. The fuzzer gets a fresh victim, and the
        // bystander is replaced if the request could reach it (a service route with the token).
        const victim = await registerHolder(t, 'victim');
        fixtures.sessionIds.add(victim.sessionId);
        fixtures.values = valuesFor(victim, fixtures);
        if ((await bystanderProblem(t, fixtures, { refresh: true })) !== null) {
          fixtures.bystander = await registerHolder(t, 'bystander');
          fixtures.sessionIds.add(fixtures.bystander.sessionId);
          fixtures.values = valuesFor(victim, fixtures);
        }
      });
      const left = BUDGET_MS - (performance.now() - started);
      const budget = Math.max(1000, left / (POLICY_NAMES.length - index));
      try {
        await fc.assert(property, { numRuns: RUNS, interruptAfterTimeLimit: budget });
      } finally {
        tables.close();
      }
      // After the fuzz the bystander still renews as its policy renews (the clock moves for it now).
      assert.equal(await renewalProblem(t, policy, fixtures.bystander, ACCESS_TTL_SECONDS), null);
      process.stdout.write(
        `# ${policy}: ${runs} requests, ${failures} failed and changed nothing, answers ${statusSummary(statuses)}\n`,
      );
      assert.ok(runs >= Math.min(RUNS, 25), `only ${runs} runs fit in the time budget`);
    });
  });
});

describe('HTTP fuzz: the demo routes', () => {
  // The demo page's files, its resource service (@tessera/verify against the server's own issuer) and
  // its webhook inbox, under the same properties. The inbox's outbox worker records deliveries on its
  // own, so the store is compared once the outbox is drained (a failed request adds no event to it).
  it('demo mode (rotating-refresh, loopback service routes)', async () => {
    const port = await freePort();
    const t = await startTestServer(
      {
        TESSERA_ACCESS_TTL: `${ACCESS_TTL_SECONDS}s`,
        TESSERA_PORT: String(port),
        TESSERA_ISSUER: `http://127.0.0.1:${port}`,
        // The fuzzer's Origin values name the usual test issuer.
        TESSERA_ALLOWED_ORIGINS: 'http://127.0.0.1:4000',
      },
      { demo: true },
    );
    try {
      const { handler } = t.server;
      const demo = (path: string) =>
        path === '/' || path.startsWith('/demo') || path === '/tessera-client.js';
      const routes: RouteShape[] = handler.routes
        .filter((route) => demo(route.path))
        .map((route) => ({ method: route.method, path: route.path, auth: route.auth }));
      assert.ok(routes.some((route) => route.path === '/demo/inbox'));
      assert.ok(routes.some((route) => route.path === '/demo/api/resource'));
      const fixtures: Fixtures = await setUpFixtures(t, ACCESS_TTL_SECONDS, SERVICE_TOKEN);
      const accepted = await learnShapes(t, routes, SHAPES, fixtures);
      const host = new URL(t.url).host;
      const drained = async () => {
        const deadline = Date.now() + 5000;
        while ((await t.server.store.listOutbox('pending', 1)).length > 0) {
          assert.ok(Date.now() < deadline, 'the demo inbox did not take the pending events');
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        return storeSnapshot(t.server.store, fixtures.sessionIds, t.clock.now());
      };
      let runs = 0;
      const statuses = new Map<number, number>();
      // The page's own files widen the CSP just enough to run its scripts and styles ('self').
      const pageCsp = (response: RawResponse, problem: string) =>
        response.headers.get('content-security-policy') === DEMO_PAGE_CSP &&
        problem.startsWith('header content-security-policy:');
      const property = fc.asyncProperty(fuzzRequest(routes, accepted), async (request: FuzzRequest) => {
        runs += 1;
        const before = await drained();
        const bytes = renderRequest(request, routes, fixtures.values, host);
        if (await sendFuzzRequest(t.url, bytes, request, statuses, pageCsp)) {
          assert.deepEqual(await drained(), before, 'a failed request changed the store');
        }
      });
      await fc.assert(property, { numRuns: Math.min(RUNS, 150), interruptAfterTimeLimit: 15_000 });
      process.stdout.write(`# demo routes: ${runs} requests, answers ${statusSummary(statuses)}\n`);
      assert.ok(runs >= 25, `only ${runs} runs fit in the time budget`);
    } finally {
      await t.close();
    }
  });
});

describe('HTTP fuzz: counterexamples found', () => {
  // Found by the fuzz test: garbage pipelined after a complete request made the server refuse the
  // connection before the first request's answer was written, so a request that took effect (a user
  // created) was never answered. Now the first request is answered, then the refusal.
  it('answers a complete request before refusing the garbage pipelined after it', async () => {
    const t = await startTestServer();
    try {
      const host = new URL(t.url).host;
      const result = await exchange(
        t.url,
        Buffer.from(`POST /admin/users HTTP/1.1\r\nHost: ${host}\r\n\r\n=`),
        { head: false, timeoutMs: 5000, halfClose: false },
      );
      assert.deepEqual(
        result.responses.map((response) => response.status),
        [201, 400],
      );
      for (const response of result.responses) assert.deepEqual(problemsOf(response, false), []);
    } finally {
      await t.close();
    }
  });

  // Found by the fuzz test: Node's HTTP server answered an HTTP/1.1 request without Host itself
  // (`requireHostHeader`, RFC 9112 §3.2), so its 400 had neither Tessera's error shape nor the security
  // headers. Now the standalone server sets `requireHostHeader: false` and `toNodeListener` answers.
  it('answers a Host-less HTTP/1.1 request with the security headers', async () => {
    const t = await startTestServer();
    try {
      const result = await exchange(
        t.url,
        Buffer.from('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'),
        {
          head: false,
          timeoutMs: 5000,
          halfClose: false,
        },
      );
      const [response] = result.responses;
      assert.ok(response);
      assert.equal(response.status, 400);
      assert.deepEqual(problemsOf(response, false), []);
    } finally {
      await t.close();
    }
  });
});
