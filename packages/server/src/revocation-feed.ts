import type { Clock, Engine, Revocation } from '@tessera/core';
import { FEED_EVENTS, type WireRevocation } from '@tessera/protocol';

/** The snapshot answer of `GET /auth/revocations`. */
export interface RevocationSnapshot {
  /** Pass as `Last-Event-ID` (or `?cursor=`) to the stream to receive everything after this snapshot. */
  cursor: string;
  generated_at_ms: number;
  revocations: WireRevocation[];
}

/** Options of {@link createRevocationFeed}. */
export interface RevocationFeedOptions {
  engine: Engine;
  /** The wall clock (the engine's). */
  clock: Clock;
  /**
   * A clock that never jumps (default: `performance.now()` from the wall time at start). Entries are
   * pruned against the earlier of the two, so a forward jump of the wall clock does not drop entries
   * whose tokens may still be valid. Tests that drive `clock` by hand pass the same clock here.
   */
  steadyClock?: Clock;
  /** How often the store is polled for revocations the bus may have missed. Default 1000 ms. */
  pollIntervalMs?: number;
  /** How often streams get a heartbeat. Default 5000 ms. */
  heartbeatMs?: number;
}

/** The live revocation set of one server instance, with its streams. */
export interface RevocationFeed {
  snapshot(): RevocationSnapshot;
  /** A server-sent-events stream, replaying what followed `cursor` when given; `onClose` runs once when it ends. */
  stream(cursor: string | undefined, onClose?: () => void): ReadableStream<Uint8Array>;
  /** Reads the store once more (also done on a timer). */
  poll(): Promise<void>;
  /** How many streams are open. */
  readonly openStreams: number;
  close(): void;
}

// Instances' clocks and the bus/poll paths disagree a little: resume with this much overlap.
const RESUME_OVERLAP_MS = 5000;
const encoder = new TextEncoder();

/** Converts an engine revocation to its wire form. */
export function toWire(revocation: Revocation): WireRevocation {
  switch (revocation.kind) {
    case 'session':
      return {
        type: 'session',
        sid: revocation.sid,
        sub: revocation.sub,
        at_ms: revocation.atMs,
        until_ms: revocation.untilMs,
      };
    case 'user':
      return {
        type: 'user',
        sub: revocation.sub,
        ...(revocation.minVersion === undefined ? {} : { min_ver: revocation.minVersion }),
        ...(revocation.notBeforeMs === undefined ? {} : { not_before_ms: revocation.notBeforeMs }),
        at_ms: revocation.atMs,
        until_ms: revocation.untilMs,
      };
    case 'global':
      return {
        type: 'global',
        not_before_ms: revocation.notBeforeMs,
        at_ms: revocation.atMs,
        until_ms: revocation.untilMs,
      };
  }
}

function keyOf(wire: WireRevocation): string {
  if (wire.type === 'session') return `s:${wire.sid}`;
  if (wire.type === 'user') return `u:${wire.sub}:${wire.min_ver ?? ''}:${wire.not_before_ms ?? ''}`;
  return `g:${wire.not_before_ms}`;
}

interface Entry {
  id: string;
  key: string;
  wire: WireRevocation;
}

function frame(entry: Entry): string {
  return `id: ${entry.id}\nevent: ${FEED_EVENTS.revocation}\ndata: ${JSON.stringify(entry.wire)}\n\n`;
}

/** A clock from `performance.now()`, anchored at the wall time `startMs`: it advances, never jumps. */
function performanceClock(startMs: number): Clock {
  const origin = performance.now();
  return { now: () => startMs + (performance.now() - origin) };
}

/**
 * Creates the feed: the live revocations (what can still match a valid access token), kept from the
 * store at start, from the revocation bus as they happen, and from a store poll that catches whatever
 * the bus missed (Redis down, another instance's message lost).
 *
 * Entries leave when `until_ms` passes on the *pruning clock*: the earlier of the wall clock and a
 * steady clock anchored at the feed's start. A wall clock that jumps forward (a bad NTP step, a VM
 * resumed) cannot run the pruning clock ahead of the time that really passed, so entries whose tokens
 * may still be valid to a verifier with a correct clock stay in the snapshot a fresh verifier takes; a
 * backward jump only keeps entries longer.
 */
export async function createRevocationFeed(options: RevocationFeedOptions): Promise<RevocationFeed> {
  const { engine, clock } = options;
  const steady = options.steadyClock ?? performanceClock(clock.now());
  const steadyStartMs = steady.now();
  const wallStartMs = clock.now();
  const pruneNow = (): number => Math.min(clock.now(), wallStartMs + (steady.now() - steadyStartMs));
  const entries: Entry[] = [];
  const keys = new Map<string, Entry>();
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const closers = new Map<ReadableStreamDefaultController<Uint8Array>, () => void>();
  let sequence = 0;
  let coverageStartMs = clock.now();
  let lastPollMs = clock.now();

  const send = (text: string): void => {
    const bytes = encoder.encode(text);
    for (const controller of streams) controller.enqueue(bytes);
  };

  const prune = (): void => {
    const nowMs = pruneNow();
    for (let i = entries.length - 1; i >= 0; i -= 1) {
      const entry = entries[i] as Entry;
      if (entry.wire.until_ms <= nowMs) {
        entries.splice(i, 1);
        keys.delete(entry.key);
      }
    }
  };

  const add = (revocation: Revocation): void => {
    const wire = toWire(revocation);
    if (wire.until_ms <= pruneNow()) return;
    const key = keyOf(wire);
    if (keys.has(key)) return;
    sequence += 1;
    const entry: Entry = { id: `${wire.at_ms}-${sequence}`, key, wire };
    keys.set(key, entry);
    let index = entries.length;
    while (index > 0 && (entries[index - 1] as Entry).wire.at_ms > wire.at_ms) index -= 1;
    entries.splice(index, 0, entry);
    send(frame(entry));
  };

  const poll = async (): Promise<void> => {
    const started = clock.now();
    for (const revocation of await engine.listRevocations(lastPollMs - RESUME_OVERLAP_MS)) add(revocation);
    lastPollMs = started;
    prune();
  };

  const heartbeat = (): string =>
    `event: ${FEED_EVENTS.heartbeat}\ndata: ${JSON.stringify({ now_ms: clock.now() })}\n\n`;

  const initial = await engine.listRevocations();
  for (const revocation of initial) add(revocation);
  // The store holds everything within one access-token lifetime, so resumption reaches back that far.
  coverageStartMs =
    clock.now() - (engine.settings.accessTtlSeconds + engine.settings.clockLeewaySeconds) * 1000;
  const unsubscribe = engine.onRevocation(add);
  const pollTimer = setInterval(() => {
    poll().catch(() => {
      // The store is down: the next tick tries again; streams keep their heartbeats.
    });
  }, options.pollIntervalMs ?? 1000);
  pollTimer.unref();
  const heartbeatTimer = setInterval(() => send(heartbeat()), options.heartbeatMs ?? 5000);
  heartbeatTimer.unref();

  const detach = (controller: ReadableStreamDefaultController<Uint8Array>): void => {
    if (!streams.delete(controller)) return;
    const onClose = closers.get(controller);
    closers.delete(controller);
    onClose?.();
  };

  return {
    snapshot() {
      prune();
      const nowMs = clock.now();
      return { cursor: `${nowMs}-0`, generated_at_ms: nowMs, revocations: entries.map((e) => e.wire) };
    },
    stream(cursor, onClose) {
      prune();
      let own: ReadableStreamDefaultController<Uint8Array> | undefined;
      return new ReadableStream<Uint8Array>({
        start(controller) {
          own = controller;
          let text = 'retry: 2000\n\n';
          const cursorMs =
            cursor === undefined
              ? undefined
              : Number(/^(\d{1,16})(?:-\d+)?$/.exec(cursor)?.[1] ?? Number.NaN);
          if (cursorMs !== undefined) {
            if (!Number.isFinite(cursorMs) || cursorMs - RESUME_OVERLAP_MS < coverageStartMs) {
              // Too old or unreadable: the client must take a fresh snapshot.
              text += `event: ${FEED_EVENTS.reset}\ndata: {}\n\n`;
            } else {
              for (const entry of entries)
                if (entry.wire.at_ms >= cursorMs - RESUME_OVERLAP_MS) text += frame(entry);
            }
          }
          controller.enqueue(encoder.encode(text + heartbeat()));
          streams.add(controller);
          if (onClose) closers.set(controller, onClose);
        },
        cancel() {
          if (own) detach(own);
        },
      });
    },
    poll,
    get openStreams() {
      return streams.size;
    },
    close() {
      unsubscribe();
      clearInterval(pollTimer);
      clearInterval(heartbeatTimer);
      for (const controller of [...streams]) {
        detach(controller);
        controller.close();
      }
    },
  };
}
