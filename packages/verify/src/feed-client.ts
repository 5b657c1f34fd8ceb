import { FEED_EVENTS, parseWireRevocation } from '@tessera/protocol';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { displayUrl, FetchFailure, fetchJson } from './fetch-json.ts';
import type { RevocationSet } from './revocation-set.ts';

/** The state of the revocation feed subscription. */
export interface FeedStatus {
  connected: boolean;
  /** Time of the last event (revocation or heartbeat) or snapshot, ms since the epoch; 0 before any. */
  lastMessageAtMs: number;
  /** How many times the stream was opened again after it ended, failed or fell silent. */
  reconnects: number;
  /** Entries the feed sent that were not valid revocations (skipped, never half-trusted). */
  rejectedEntries: number;
  /** Why the stream last ended or failed, or `null`. */
  lastError: string | null;
}

/** Options of {@link startFeed}. */
export interface FeedOptions {
  revocationsUrl: string;
  streamUrl: string;
  headers: Readonly<Record<string, string>>;
  set: RevocationSet;
  fetch: typeof fetch;
  now: () => number;
  /** Bound on the snapshot request, ms. */
  timeoutMs: number;
  /** Silence (no event, heartbeat included) after which the stream is dropped and reopened, ms. */
  silenceMs: number;
}

/** A running subscription. */
export interface Feed {
  /** Resolves once the first snapshot is loaded; rejects with a sentence naming the URL and the option to set. */
  ready: Promise<void>;
  status(): FeedStatus;
  stop(): void;
}

/** The most a single event may hold before the stream is treated as hostile and dropped. */
const MAX_EVENT_CHARS = 1 << 20;

class SilentStream extends Error {}

function snapshotAdvice(status: number | null): string {
  if (status === 401 || status === 403)
    return 'Set the serviceToken option (TESSERA_SERVICE_TOKEN) of createVerifier().';
  if (status === 404) return 'Set the revocationsUrl option of createVerifier(), or feed: false.';
  return 'Check that the issuer is reachable, or set feed: false.';
}

/**
 * Keeps `set` in step with the issuer: takes the snapshot, then follows the event stream from the
 * snapshot's cursor, reconnecting with backoff (250 ms doubling to 5 s) from the last event id, and
 * taking a new snapshot when the server says `reset`. A stream that stays silent for `silenceMs`
 * (a half-open connection: no bytes, no close) is dropped and reopened; meanwhile `status()` shows
 * the growing lag. Every entry is checked with `parseWireRevocation`.
 */
export function startFeed(options: FeedOptions): Feed {
  const stopping = new AbortController();
  let stopped = false;
  let connected = false;
  let lastMessageAtMs = 0;
  let reconnects = 0;
  let rejectedEntries = 0;
  let lastError: string | null = null;
  let cursor: string | undefined;
  let needSnapshot = true;

  const apply = (entry: unknown): void => {
    const revocation = parseWireRevocation(entry);
    if (revocation) options.set.apply(revocation);
    else rejectedEntries += 1;
  };

  const snapshot = async (): Promise<void> => {
    let body: unknown;
    try {
      ({ body } = await fetchJson(options.revocationsUrl, {
        fetch: options.fetch,
        headers: options.headers,
        timeoutMs: options.timeoutMs,
        signal: stopping.signal,
      }));
    } catch (error) {
      const status = error instanceof FetchFailure ? error.status : null;
      const what = error instanceof Error ? error.message : String(error);
      throw new FetchFailure(
        `Cannot load the revocation snapshot: ${what}. ${snapshotAdvice(status)}`,
        status,
        {
          cause: error,
        },
      );
    }
    const { cursor: next, revocations } = (body ?? {}) as { cursor?: unknown; revocations?: unknown };
    if (typeof next !== 'string' || next.length > 100 || !Array.isArray(revocations)) {
      throw new FetchFailure(
        `Cannot load the revocation snapshot: GET ${displayUrl(options.revocationsUrl)} answered no {cursor, revocations}. ${snapshotAdvice(null)}`,
        null,
      );
    }
    options.set.clear();
    for (const entry of revocations) apply(entry);
    cursor = next;
    needSnapshot = false;
    lastMessageAtMs = options.now();
  };

  const follow = async (): Promise<void> => {
    const attempt = new AbortController();
    const abort = () => attempt.abort();
    stopping.signal.addEventListener('abort', abort, { once: true });
    let watchdog: ReturnType<typeof setTimeout> | undefined;
    // Armed before the request, so a server that never answers the request is caught too.
    const arm = (): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => attempt.abort(new SilentStream()), options.silenceMs);
      watchdog.unref?.();
    };
    let ended = false;
    const onEvent = (event: EventSourceMessage): void => {
      arm();
      lastMessageAtMs = options.now();
      if (event.event === FEED_EVENTS.revocation) {
        try {
          apply(JSON.parse(event.data));
        } catch {
          rejectedEntries += 1;
        }
        if (event.id) cursor = event.id;
      } else if (event.event === FEED_EVENTS.reset) {
        needSnapshot = true;
        ended = true;
      }
    };
    const failure: { parse: Error | null } = { parse: null };
    const parser = createParser({
      onEvent,
      onError: (error) => {
        failure.parse = error;
      },
      maxBufferSize: MAX_EVENT_CHARS,
    });
    arm();
    try {
      const headers: Record<string, string> = { ...options.headers, accept: 'text/event-stream' };
      if (cursor) headers['last-event-id'] = cursor;
      const response = await options.fetch(options.streamUrl, { headers, signal: attempt.signal });
      if (!response.ok || !response.body) {
        await response.body?.cancel().catch(() => undefined);
        throw new Error(`GET ${displayUrl(options.streamUrl)} answered ${response.status}`);
      }
      connected = true;
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        while (!ended) {
          const { value, done } = await reader.read();
          if (done) throw new Error('The revocation stream was closed by the server.');
          parser.feed(value);
          if (failure.parse) throw failure.parse;
        }
      } finally {
        reader.cancel().catch(() => undefined);
      }
    } catch (error) {
      if (attempt.signal.reason instanceof SilentStream) {
        throw new Error(`The revocation stream was silent for ${options.silenceMs} ms; reconnecting.`);
      }
      throw error;
    } finally {
      connected = false;
      clearTimeout(watchdog);
      attempt.abort();
      stopping.signal.removeEventListener('abort', abort);
    }
  };

  const ready = snapshot();
  const loop = async (): Promise<void> => {
    await ready.catch(() => undefined);
    let backoffMs = 250;
    let first = true;
    while (!stopped) {
      try {
        if (needSnapshot) await snapshot();
        if (!first) reconnects += 1;
        first = false;
        await follow();
        backoffMs = 250;
      } catch (error) {
        if (stopped) return;
        lastError = error instanceof Error ? error.message : String(error);
        await new Promise((resolve) => setTimeout(resolve, backoffMs).unref?.());
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  };
  loop().catch(() => undefined);

  return {
    ready,
    status: () => ({ connected, lastMessageAtMs, reconnects, rejectedEntries, lastError }),
    stop() {
      stopped = true;
      stopping.abort();
    },
  };
}
