import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type ChildServer, freePort, startChildServer, stopChildServer } from '../helpers/child-server.ts';
import {
  type Answer,
  describeAnswer,
  describeOutcome,
  eventually,
  isTessera503,
  type Outcome,
  pause,
  send,
  within,
} from './http-probe.ts';
import { openRawConnection } from './raw-connection.ts';
import {
  assertSessionsIntact,
  type RefreshClient,
  registerClients,
  startRefreshLoad,
  tally,
} from './refresh-load.ts';

/** How long a stopping server may take to exit. */
const EXIT_BOUND_MS = 5000;

/** A clean refusal of a request that reached a stopping server: a 503 in Tessera's error shape. */
function isShutdown503(answer: Answer): boolean {
  return isTessera503(answer, 'service_unavailable', false);
}

function isRotation(outcome: Outcome): boolean {
  return outcome.kind === 'answer' && outcome.answer.status === 200;
}

/**
 * Whether an outcome is acceptable while a server stops: an answer (a rotation, or a clean 503), or a
 * request the server never accepted that was refused at connect or lost with an idle keep-alive
 * connection the server closed as the request was written (RFC 9112 §9.5: the client retries those).
 */
function cleanDuringShutdown(outcome: Outcome): boolean {
  if (outcome.kind === 'answer') return isRotation(outcome) || isShutdown503(outcome.answer);
  if (outcome.accepted) return false;
  return outcome.code === 'ECONNREFUSED' || (outcome.reusedSocket && outcome.code === 'ECONNRESET');
}

/** Opens the revocation stream (a resource service's long-lived connection) and resolves once it answered. */
function openRevocationStream(url: string): Promise<{ status: number; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = get(`${url}/auth/revocations/stream`, { agent: false }, (res) => {
      const ended = new Promise<void>((done) => {
        res.on('close', () => done());
      });
      res.resume();
      resolve({ status: res.statusCode ?? 0, ended });
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('the revocation stream did not answer')));
  });
}

/**
 * Refreshes the server has accepted (it answered `100 Continue`) whose bodies wait for `release()`:
 * sent before the signal and finished during the drain, they are in flight through all of it.
 * Resolves once every one was accepted.
 */
async function holdAcceptedRefreshes(url: string, clients: RefreshClient[]) {
  let release = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const accepted: Array<Promise<void>> = [];
  const outcomes = clients.map((client) => {
    let onAccepted = () => {};
    accepted.push(
      new Promise<void>((resolve) => {
        onAccepted = resolve;
      }),
    );
    return send(url, 'POST', '/auth/refresh', {
      json: { refresh_token: client.acknowledged },
      expectContinue: true,
      deadlineMs: 10_000,
      onAccepted: () => {
        onAccepted();
        return gate;
      },
    });
  });
  await Promise.all(accepted);
  return { release, outcomes: Promise.all(outcomes) };
}

/**
 * On a raw connection, a refresh for `first` the server has accepted (`100 Continue`), its body held;
 * `finish()` sends that body with a refresh for `second` pipelined behind it (a request arriving on
 * an open connection during the drain) and resolves with both answers and how the connection ended.
 */
async function holdPipelinedPair(url: string, first: RefreshClient, second: RefreshClient) {
  const raw = await openRawConnection(url);
  const host = new URL(url).host;
  const request = (body: string, extra: string) =>
    `POST /auth/refresh HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n`;
  const firstBody = JSON.stringify({ refresh_token: first.acknowledged });
  raw.write(request(firstBody, 'Expect: 100-continue\r\n'));
  await raw.waitForResponses(1, 5000);
  assert.equal(raw.responses[0]?.status, 100);
  return {
    async finish() {
      const secondBody = JSON.stringify({ refresh_token: second.acknowledged });
      raw.write(`${firstBody}${request(secondBody, '')}${secondBody}`);
      const end = await within(raw.ended, EXIT_BOUND_MS, () => 'still open');
      raw.destroy();
      const [, firstAnswer, secondAnswer] = raw.responses;
      return { firstAnswer, secondAnswer, end };
    },
  };
}

describe('fault: SIGTERM under load', () => {
  it('answers every accepted request, turns new ones away cleanly and exits within 5 s', {
    timeout: 60_000,
  }, async (t) => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tessera-sigterm-'));
    const env = {
      TESSERA_PORT: String(await freePort()),
      TESSERA_DATA_DIR: dataDir,
      TESSERA_SECRET: randomBytes(32).toString('base64url'),
      TESSERA_RATE_LIMIT: 'off',
    };
    const runs: ChildServer[] = [];
    // Every violation is collected, so one run names them all.
    const problems: string[] = [];
    try {
      const server = await startChildServer(env);
      runs.push(server);
      const { url } = server;
      const clients = await registerClients([url], 8);
      const loadClients = clients.slice(0, 4);
      const heldClients = clients.slice(4, 6);
      const [first, second] = clients.slice(6) as [RefreshClient, RefreshClient];
      // Every load request asks for `100 Continue`, so each outcome says whether the server had
      // accepted the request before anything went wrong.
      const load = startRefreshLoad(loadClients, {
        urls: () => [url],
        expectContinue: true,
        deadlineMs: 5000,
        maxMs: 30_000,
      });
      const stream = await openRevocationStream(url);
      assert.equal(stream.status, 200);
      await eventually('rotations before the signal', 10_000, async () => load.acknowledged() >= 100);
      const held = await holdAcceptedRefreshes(url, heldClients);
      const pipelined = await holdPipelinedPair(url, first, second);

      let signalled = 0;
      const exited = new Promise<{ code: number | null; signal: string | null; ms: number }>((resolve) => {
        server.child.once('exit', (code, signal) =>
          resolve({ code, signal, ms: performance.now() - signalled }),
        );
      });
      load.phase = 'stopping';
      signalled = performance.now();
      server.child.kill('SIGTERM');

      // The load sees the shutdown begin (its next request is turned away); while the held requests
      // keep the server in its drain, requests arriving on new connections must be turned away.
      await eventually('the server begins to stop', EXIT_BOUND_MS, async () =>
        load.records.some((r) => r.settledIn === 'stopping' && !isRotation(r.outcome)),
      );
      const arrivals: Outcome[] = [];
      for (let i = 0; i < 3; i += 1) {
        arrivals.push(await send(url, 'GET', '/healthz', { deadlineMs: 2000 }));
        await pause(20);
      }
      held.release();
      const pair = await pipelined.finish();
      const heldOutcomes = await held.outcomes;
      const exit = await within(exited, EXIT_BOUND_MS * 2, () => ({
        code: null,
        signal: 'still running',
        ms: Number.NaN,
      }));
      await load.stop();
      await within(stream.ended, EXIT_BOUND_MS, () => problems.push('the revocation stream stayed open'));

      t.diagnostic(
        `exit after ${exit.ms.toFixed(0)} ms (code ${exit.code}); during shutdown: ${JSON.stringify(
          tally(load.records, 'stopping'),
        )}; new arrivals: ${JSON.stringify(arrivals.map((o) => (o.kind === 'answer' ? o.answer.status : o.code)))}`,
      );
      for (const [i, outcome] of heldOutcomes.entries()) {
        const client = heldClients[i];
        if (client && outcome.kind === 'answer' && outcome.answer.status === 200)
          client.acknowledged = outcome.answer.body.refresh_token;
        else
          problems.push(`an accepted request was not answered with a rotation: ${describeOutcome(outcome)}`);
      }
      // The pipelined pair: the accepted first request is answered; the second, which arrived during
      // the drain, is answered (a rotation or a clean 503), or refused by closing the connection
      // cleanly after a `Connection: close` answer to the first (RFC 9112 §9.6: retry it elsewhere).
      const { firstAnswer, secondAnswer, end } = pair;
      if (firstAnswer?.status === 200) first.acknowledged = firstAnswer.body.refresh_token;
      else
        problems.push(
          `the accepted pipelined request: ${firstAnswer ? describeAnswer(firstAnswer) : 'none'}`,
        );
      if (secondAnswer?.status === 200) second.acknowledged = secondAnswer.body.refresh_token;
      else if (secondAnswer && !isShutdown503(secondAnswer))
        problems.push(`a request pipelined during shutdown: ${describeAnswer(secondAnswer)}`);
      else if (!secondAnswer && (firstAnswer?.headers.connection !== 'close' || end !== 'end'))
        problems.push(
          `a request pipelined during shutdown got no answer, and the connection ended with ${end} ` +
            `after an answer with connection: ${firstAnswer?.headers.connection}`,
        );
      for (const outcome of arrivals) {
        const clean =
          outcome.kind === 'error'
            ? outcome.code === 'ECONNREFUSED' && !outcome.accepted
            : isShutdown503(outcome.answer);
        if (!clean) problems.push(`a new connection during shutdown: ${describeOutcome(outcome)}`);
      }
      for (const record of load.records) {
        if (!cleanDuringShutdown(record.outcome))
          problems.push(`a load request (${record.phase}): ${describeOutcome(record.outcome)}`);
      }
      if (!(exit.ms <= EXIT_BOUND_MS))
        problems.push(`exited ${exit.ms.toFixed(0)} ms after SIGTERM (${exit.signal})`);
      if (exit.code !== 0) problems.push(`exit code ${exit.code} (${exit.signal})`);

      // Nothing acknowledged before or during the shutdown was lost.
      const restarted = await startChildServer(env);
      runs.push(restarted);
      await assertSessionsIntact(restarted.url, clients).catch((error: Error) =>
        problems.push(`after the restart: ${error.message}`),
      );
    } finally {
      for (const run of runs) await stopChildServer(run, 'SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
    for (const run of runs) {
      if (/reuse detected/.test(run.output())) problems.push('a false reuse alarm');
    }
    assert.deepEqual(problems, []);
  });
});
