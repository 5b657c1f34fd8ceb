import type { FeedRevocation, RevocationSet } from './revocation-set.ts';
import { createSseParser } from './sse.ts';

/** The state of the revocation feed subscription. */
export interface FeedStatus {
  connected: boolean;
  /** Time of the last message (event or heartbeat) or snapshot, ms since the epoch; 0 before any. */
  lastMessageAtMs: number;
}

/** Options of {@link startFeed}. */
export interface FeedOptions {
  revocationsUrl: string;
  streamUrl: string;
  headers: Record<string, string>;
  set: RevocationSet;
  fetch: typeof fetch;
  now: () => number;
}

/** A running subscription. */
export interface Feed {
  /** Resolves once the first snapshot is loaded (rejects if it fails). */
  ready: Promise<void>;
  status(): FeedStatus;
  stop(): void;
}

/**
 * Keeps `set` in step with the issuer: takes the snapshot, then follows the event stream from the
 * snapshot's cursor, reconnecting with backoff (250 ms doubling to 5 s) from the last event id, and
 * taking a new snapshot when the server says `reset`.
 */
export function startFeed(options: FeedOptions): Feed {
  const controller = new AbortController();
  let stopped = false;
  let connected = false;
  let lastMessageAtMs = 0;
  let cursor: string | undefined;
  let needSnapshot = true;

  const snapshot = async (): Promise<void> => {
    const response = await options.fetch(options.revocationsUrl, {
      headers: options.headers,
      signal: controller.signal,
    });
    if (!response.ok) throw new Error(`revocation snapshot failed with ${response.status}`);
    const body = (await response.json()) as { cursor: string; revocations: FeedRevocation[] };
    options.set.clear();
    for (const revocation of body.revocations) options.set.apply(revocation);
    cursor = body.cursor;
    needSnapshot = false;
    lastMessageAtMs = options.now();
  };

  const follow = async (): Promise<void> => {
    const headers: Record<string, string> = { ...options.headers, accept: 'text/event-stream' };
    if (cursor) headers['last-event-id'] = cursor;
    const response = await options.fetch(options.streamUrl, { headers, signal: controller.signal });
    if (!response.ok || !response.body) throw new Error(`revocation stream failed with ${response.status}`);
    connected = true;
    const parse = createSseParser();
    const decoder = new TextDecoder();
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        for (const event of parse(decoder.decode(value, { stream: true }))) {
          lastMessageAtMs = options.now();
          if (event.event === 'revocation') {
            options.set.apply(JSON.parse(event.data) as FeedRevocation);
            if (event.id) cursor = event.id;
          } else if (event.event === 'reset') {
            needSnapshot = true;
            return;
          }
        }
      }
    } finally {
      connected = false;
      reader.cancel().catch(() => undefined);
    }
  };

  const ready = snapshot();
  const loop = async (): Promise<void> => {
    await ready.catch(() => undefined);
    let backoffMs = 250;
    while (!stopped) {
      try {
        if (needSnapshot) await snapshot();
        await follow();
        backoffMs = 250;
      } catch {
        if (stopped) return;
        await new Promise((resolve) => setTimeout(resolve, backoffMs).unref?.());
        backoffMs = Math.min(backoffMs * 2, 5000);
      }
    }
  };
  loop().catch(() => undefined);

  return {
    ready,
    status: () => ({ connected, lastMessageAtMs }),
    stop() {
      stopped = true;
      controller.abort();
    },
  };
}
