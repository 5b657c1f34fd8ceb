import { PassThrough, type Readable } from 'node:stream';
import type { Clock, Engine, Revocation } from '@tessera/core';

/** A revocation as the feed sends it (JSON, milliseconds since the epoch). */
export type WireRevocation =
  | { type: 'session'; sid: string; sub: string; at_ms: number; until_ms: number }
  | { type: 'user'; sub: string; min_ver?: number; not_before_ms?: number; at_ms: number; until_ms: number }
  | { type: 'global'; not_before_ms: number; at_ms: number; until_ms: number };

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
  clock: Clock;
  /** How often the store is polled for revocations the bus may have missed. Default 1000 ms. */
  pollIntervalMs?: number;
  /** How often streams get a heartbeat. Default 5000 ms. */
  heartbeatMs?: number;
}

/** The live revocation set of one server instance, with its streams. */
export interface RevocationFeed {
  snapshot(): RevocationSnapshot;
  /** A server-sent-events stream, replaying what followed `cursor` when given. */
  stream(cursor: string | undefined): Readable;
  /** Reads the store once more (also done on a timer). */
  poll(): Promise<void>;
  close(): void;
}

// Instances' clocks and the bus/poll paths disagree a little: resume with this much overlap.
const RESUME_OVERLAP_MS = 5000;

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
  return `id: ${entry.id}\nevent: revocation\ndata: ${JSON.stringify(entry.wire)}\n\n`;
}

/**
 * Creates the feed: the live revocations (what can still match a valid access token), kept from the
 * store at start, from the revocation bus as they happen, and from a store poll that catches whatever
 * the bus missed (Redis down, another instance's message lost). Entries leave when `until_ms` passes.
 */
export async function createRevocationFeed(options: RevocationFeedOptions): Promise<RevocationFeed> {
  const { engine, clock } = options;
  const entries: Entry[] = [];
  const keys = new Map<string, Entry>();
  const streams = new Set<PassThrough>();
  let sequence = 0;
  let coverageStartMs = clock.now();
  let lastPollMs = clock.now();

  const prune = (): void => {
    const nowMs = clock.now();
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
    if (wire.until_ms <= clock.now()) return;
    const key = keyOf(wire);
    if (keys.has(key)) return;
    sequence += 1;
    const entry: Entry = { id: `${wire.at_ms}-${sequence}`, key, wire };
    keys.set(key, entry);
    let index = entries.length;
    while (index > 0 && (entries[index - 1] as Entry).wire.at_ms > wire.at_ms) index -= 1;
    entries.splice(index, 0, entry);
    const text = frame(entry);
    for (const stream of streams) stream.write(text);
  };

  const poll = async (): Promise<void> => {
    const started = clock.now();
    for (const revocation of await engine.listRevocations(lastPollMs - RESUME_OVERLAP_MS)) add(revocation);
    lastPollMs = started;
    prune();
  };

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
  const heartbeatTimer = setInterval(() => {
    const text = `event: heartbeat\ndata: ${JSON.stringify({ now_ms: clock.now() })}\n\n`;
    for (const stream of streams) stream.write(text);
  }, options.heartbeatMs ?? 5000);
  heartbeatTimer.unref();

  return {
    snapshot() {
      prune();
      const nowMs = clock.now();
      return { cursor: `${nowMs}-0`, generated_at_ms: nowMs, revocations: entries.map((e) => e.wire) };
    },
    stream(cursor) {
      prune();
      const stream = new PassThrough();
      stream.write(`retry: 2000\n\n`);
      const cursorMs =
        cursor === undefined ? undefined : Number(/^(\d{1,16})(?:-\d+)?$/.exec(cursor)?.[1] ?? Number.NaN);
      if (cursorMs !== undefined) {
        if (!Number.isFinite(cursorMs) || cursorMs - RESUME_OVERLAP_MS < coverageStartMs) {
          // Too old or unreadable: the client must take a fresh snapshot.
          stream.write(`event: reset\ndata: {}\n\n`);
        } else {
          for (const entry of entries)
            if (entry.wire.at_ms >= cursorMs - RESUME_OVERLAP_MS) stream.write(frame(entry));
        }
      }
      stream.write(`event: heartbeat\ndata: ${JSON.stringify({ now_ms: clock.now() })}\n\n`);
      streams.add(stream);
      stream.on('close', () => streams.delete(stream));
      return stream;
    },
    poll,
    close() {
      unsubscribe();
      clearInterval(pollTimer);
      clearInterval(heartbeatTimer);
      for (const stream of streams) stream.end();
      streams.clear();
    },
  };
}
