// Clients that refresh in a loop while a fault is injected, each keeping the last refresh token it
// got an answer for, with every outcome recorded under the phase of the scenario it happened in.
import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { PASSWORD } from '../helpers/server.ts';
import { ask, describeAnswer, type Outcome, pause, send } from './http-probe.ts';

/** One client: its session and the last refresh token the server acknowledged to it. */
export interface RefreshClient {
  email: string;
  sessionId: string;
  /** The refresh token of the last 200 answer this client received (or of its registration). */
  acknowledged: string;
  accessToken: string;
  refreshes: number;
}

/** Registers `count` users (one session each), spread over `urls`. */
export async function registerClients(urls: readonly string[], count: number): Promise<RefreshClient[]> {
  const tag = Math.random().toString(36).slice(2, 8);
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const email = `fault-${tag}-${i}@example.com`;
      const reg = await ask(urls[i % urls.length] as string, 'POST', '/auth/register', {
        json: { email, password: PASSWORD },
        deadlineMs: 20_000,
      });
      if (reg.status !== 201) throw new Error(`register failed: ${describeAnswer(reg)}`);
      return {
        email,
        sessionId: reg.body.session_id as string,
        acknowledged: reg.body.refresh_token as string,
        accessToken: reg.body.access_token as string,
        refreshes: 0,
      };
    }),
  );
}

/** One recorded request of a load. */
export interface LoadRecord {
  /** The scenario's phase when the request was sent. */
  phase: string;
  /** The scenario's phase when its outcome arrived. */
  settledIn: string;
  client: number;
  outcome: Outcome;
}

/** Options of {@link startRefreshLoad}. */
export interface RefreshLoadOptions {
  /** The instances to refresh on, taken round robin; read before every request (restarts move it). */
  urls: () => readonly string[];
  /** Per-request deadline. Default 5000 ms. */
  deadlineMs?: number;
  /** Ask for `100 Continue` first, so each outcome knows whether the server accepted the request. */
  expectContinue?: boolean;
  /** A client waits this long after a failed request before its next one. Default 50 ms. */
  backoffMs?: number;
  /** A client waits this long between requests (pacing under rate limits). Default 0. */
  intervalMs?: number;
  /** The loops end by themselves after this long, stopped or not. Default 60,000 ms. */
  maxMs?: number;
}

/** A running load: set `phase` as the scenario moves on; `stop()` ends every loop. */
export interface RefreshLoad {
  phase: string;
  readonly records: LoadRecord[];
  /** Requests sent and not yet settled. */
  inFlight(): number;
  /** Refreshes acknowledged (200) so far, across clients. */
  acknowledged(): number;
  stop(): Promise<void>;
}

/**
 * Starts one loop per client: refresh with the last acknowledged token, keep the successor on a 200,
 * back off briefly on anything else. Every request is bounded by its deadline and every loop by
 * `maxMs`, so a load cannot outlive its test.
 */
export function startRefreshLoad(clients: RefreshClient[], options: RefreshLoadOptions): RefreshLoad {
  const agent = new Agent({ keepAlive: true });
  const records: LoadRecord[] = [];
  const endAt = performance.now() + (options.maxMs ?? 60_000);
  let stopped = false;
  let inFlight = 0;
  let acknowledged = 0;
  let next = 0;
  const load: RefreshLoad = {
    phase: 'start',
    records,
    inFlight: () => inFlight,
    acknowledged: () => acknowledged,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      agent.destroy();
    },
  };
  const loops = clients.map(async (client, index) => {
    while (!stopped && performance.now() < endAt) {
      const urls = options.urls();
      const url = urls[next++ % urls.length] as string;
      inFlight += 1;
      const phase = load.phase;
      const outcome = await send(url, 'POST', '/auth/refresh', {
        json: { refresh_token: client.acknowledged },
        agent,
        deadlineMs: options.deadlineMs ?? 5000,
        expectContinue: options.expectContinue ?? false,
      });
      inFlight -= 1;
      records.push({ phase, settledIn: load.phase, client: index, outcome });
      if (outcome.kind === 'answer' && outcome.answer.status === 200) {
        client.acknowledged = outcome.answer.body.refresh_token;
        client.accessToken = outcome.answer.body.access_token;
        client.refreshes += 1;
        acknowledged += 1;
      } else {
        await pause(options.backoffMs ?? 50);
      }
      if (options.intervalMs) await pause(options.intervalMs);
    }
  });
  return load;
}

/**
 * A probe for `eventually`: true once every client has had a rotation acknowledged since this call
 * (the load goes on working after a fault).
 */
export function everyClientRotatesAgain(clients: readonly RefreshClient[]): () => Promise<boolean> {
  const before = clients.map((c) => c.refreshes);
  return async () => clients.every((c, i) => c.refreshes > (before[i] ?? 0));
}

/**
 * Counts of outcomes (`status:code` for answers, `error:CODE` for wire failures), of the requests
 * sent in `phase` when given.
 */
export function tally(records: readonly LoadRecord[], phase?: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { phase: p, outcome } of records) {
    if (phase !== undefined && p !== phase) continue;
    const key =
      outcome.kind === 'answer'
        ? `${outcome.answer.status}${outcome.answer.body?.error ? `:${outcome.answer.body.error}` : ''}`
        : `error:${outcome.code}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

/** The slowest settled request of a phase, in milliseconds. */
export function slowestMs(records: readonly LoadRecord[], phase: string): number {
  return Math.max(0, ...records.filter((r) => r.phase === phase).map((r) => r.outcome.ms));
}

/**
 * Asserts that every client's session survived a fault: its last acknowledged refresh token still
 * refreshes (the current token, or the predecessor of a rotation whose answer was lost, which the
 * grace window answers with the same successor), the successor rotates normally (no reuse alarm
 * revoked the session), and the session is still listed. Leaves each client on its newest token.
 */
export async function assertSessionsIntact(url: string, clients: RefreshClient[]): Promise<void> {
  for (const client of clients) {
    const retry = await ask(url, 'POST', '/auth/refresh', { json: { refresh_token: client.acknowledged } });
    assert.equal(
      retry.status,
      200,
      `session ${client.sessionId}: last acknowledged token refused: ${describeAnswer(retry)}`,
    );
    assert.equal(retry.body.session_id, client.sessionId);
    const next = await ask(url, 'POST', '/auth/refresh', {
      json: { refresh_token: retry.body.refresh_token },
    });
    assert.equal(
      next.status,
      200,
      `session ${client.sessionId}: its successor was refused: ${describeAnswer(next)}`,
    );
    client.acknowledged = next.body.refresh_token;
    client.accessToken = next.body.access_token;
    const sessions = await ask(url, 'GET', '/auth/sessions', { token: client.accessToken });
    assert.equal(sessions.status, 200, describeAnswer(sessions));
    assert.deepEqual(
      sessions.body.sessions.map((s: { id: string }) => s.id),
      [client.sessionId],
    );
  }
}
