// Bounded HTTP for the fault suite: every request has a deadline, and what went wrong on the wire is
// an outcome to assert on (refused, reset, timed out), not an exception that ends the test.
import { type Agent, type IncomingHttpHeaders, request } from 'node:http';

// biome-ignore lint/suspicious/noExplicitAny: tests read JSON bodies loosely and assert on them.
type Json = any;

/** A response that arrived in full. */
export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  body: Json;
}

/**
 * What became of one request. `accepted` says the server had read the request head: it answered
 * `100 Continue` (when asked with `expectContinue`) or began a response.
 */
export type Outcome =
  | { kind: 'answer'; answer: Answer; accepted: true; ms: number }
  | { kind: 'error'; code: string; accepted: boolean; reusedSocket: boolean; ms: number };

/** Options of {@link send}. */
export interface SendOptions {
  json?: unknown;
  headers?: Record<string, string>;
  /** A bearer access token. */
  token?: string;
  /** A keep-alive agent to reuse connections; a fresh connection per request when absent. */
  agent?: Agent;
  /** The request is abandoned (outcome `DEADLINE`) after this many milliseconds. Default 5000. */
  deadlineMs?: number;
  /**
   * Send `Expect: 100-continue` and hold the body until the server answers `100 Continue`, so the
   * outcome says whether the server accepted the request before anything went wrong.
   */
  expectContinue?: boolean;
  /** Runs once the server accepted the head, before the body is sent; the body waits for it. */
  onAccepted?: () => Promise<void> | void;
}

/** Sends one request to `base + path` and resolves to its {@link Outcome}; never rejects. */
export function send(
  base: string,
  method: string,
  path: string,
  options: SendOptions = {},
): Promise<Outcome> {
  const url = new URL(path, base);
  const body = options.json === undefined ? undefined : JSON.stringify(options.json);
  const headers: Record<string, string> = { ...options.headers };
  if (body !== undefined) {
    headers['content-type'] ??= 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.expectContinue) headers.expect = '100-continue';
  const started = performance.now();
  return new Promise<Outcome>((resolve) => {
    let accepted = false;
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      method,
      headers,
      ...(options.agent ? { agent: options.agent } : { agent: false }),
    });
    const fail = (code: string) => {
      settle({
        kind: 'error',
        code,
        accepted,
        reusedSocket: req.reusedSocket,
        ms: performance.now() - started,
      });
    };
    const timer = setTimeout(() => {
      fail('DEADLINE');
      req.destroy();
    }, options.deadlineMs ?? 5000);
    req.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
    req.on('response', (res) => {
      accepted = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
      res.on('aborted', () => fail('RESPONSE_ABORTED'));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: Json = null;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          parsed = null;
        }
        settle({
          kind: 'answer',
          answer: { status: res.statusCode ?? 0, headers: res.headers, text, body: parsed },
          accepted: true,
          ms: performance.now() - started,
        });
        // A final answer without `100 Continue` leaves the body unsent: the request is over.
        if (!req.writableEnded) req.destroy();
      });
    });
    if (options.expectContinue) {
      req.on('continue', () => {
        accepted = true;
        Promise.resolve(options.onAccepted?.()).then(
          () => {
            if (!settled) req.end(body);
          },
          () => req.destroy(),
        );
      });
      req.flushHeaders();
    } else {
      req.end(body);
    }
  });
}

/** Like {@link send}, but an answer is required: a wire failure throws, naming the request. */
export async function ask(
  base: string,
  method: string,
  path: string,
  options: SendOptions = {},
): Promise<Answer> {
  const outcome = await send(base, method, path, options);
  if (outcome.kind === 'error') throw new Error(`${method} ${path}: no answer (${outcome.code})`);
  return outcome.answer;
}

/**
 * True when `answer` is a 503 in Tessera's error shape: JSON `{error, error_description}` with the
 * given code, the security headers, and (when `retryAfter`) a `Retry-After` in whole seconds.
 */
export function isTessera503(answer: Answer, code: string, retryAfter = true): boolean {
  return (
    answer.status === 503 &&
    answer.body?.error === code &&
    typeof answer.body?.error_description === 'string' &&
    answer.headers['x-content-type-options'] === 'nosniff' &&
    (!retryAfter || /^[1-9]\d*$/.test(String(answer.headers['retry-after'] ?? '')))
  );
}

/**
 * A one-line account of an outcome for an assertion message: status, error code and the start of the
 * body, with tokens blanked out (test output is a log like any other).
 */
export function describeOutcome(outcome: Outcome): string {
  if (outcome.kind === 'error')
    return `${outcome.code} (${outcome.accepted ? 'after' : 'before'} the server accepted it, ${outcome.ms.toFixed(0)} ms)`;
  return describeAnswer(outcome.answer);
}

/** {@link describeOutcome} for an answer. */
export function describeAnswer(answer: Answer): string {
  const text = answer.text.replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, '<jwt>').replace(/tsr_[\w-]+/g, '<tsr>');
  return `${answer.status} ${text.slice(0, 300)}`;
}

/** Polls `probe` every 100 ms until it returns true; fails after `ms` with `what`. */
export async function eventually(what: string, ms: number, probe: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  const deadline = started + ms;
  for (;;) {
    if (await probe().catch(() => false)) return performance.now() - started;
    if (performance.now() >= deadline) throw new Error(`${what}: not within ${ms} ms`);
    await pause(100);
  }
}

/** Resolves after `ms` (pacing a client or holding a fault open; never used to wait for a state). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves to `promise`'s value, or to `fallback()` if it has not settled after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, fallback: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>((resolve) => {
        timer = setTimeout(() => resolve(fallback()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
