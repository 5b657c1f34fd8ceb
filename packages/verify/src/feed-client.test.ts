import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startFeed } from './feed-client.ts';
import { createRevocationSet } from './revocation-set.ts';

const claims = (sid: string) => ({ sid, sub: 'u1', ver: 1, iat: 1 });
const revocation = (sid: string) =>
  JSON.stringify({ type: 'session', sid, sub: 'u1', at_ms: 1, until_ms: 10 ** 13 });

/**
 * A `fetch` for the feed whose stream delivers exactly the chunks given, one `read()` each (so a
 * line can be split anywhere), then stays open until aborted. Records each stream request's headers.
 */
function scriptedFeed(streams: string[][], snapshot: unknown = { cursor: '1-0', revocations: [] }) {
  const requests: Headers[] = [];
  const fetchImpl = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    if (!String(input).endsWith('/stream')) return Response.json(snapshot);
    requests.push(new Headers(init?.headers));
    const chunks = [...(streams[requests.length - 1] ?? [])];
    const encoder = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        // As a real fetch does, an abort errors the body.
        init?.signal?.addEventListener('abort', () => controller.error(init.signal?.reason));
      },
      pull(controller) {
        const next = chunks.shift();
        if (next !== undefined) controller.enqueue(encoder.encode(next));
        // Then silence: the stream stays open until the reader aborts it.
      },
    });
    return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
  };
  return { fetch: fetchImpl, requests };
}

async function until(probe: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!probe()) {
    if (performance.now() > deadline) assert.fail(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function feedOptions(fetchImpl: typeof fetch, silenceMs = 60_000) {
  const set = createRevocationSet();
  return {
    set,
    options: {
      revocationsUrl: 'http://issuer.test/auth/revocations',
      streamUrl: 'http://issuer.test/auth/revocations/stream',
      headers: {},
      set,
      fetch: fetchImpl,
      now: Date.now,
      timeoutMs: 1000,
      silenceMs,
    },
  };
}

describe('revocation feed client', () => {
  it('parses a line split between \\r and \\n across two chunks as one line', async () => {
    const text = revocation('s1');
    // Split where JSON allows a line break (after a comma), as a multi-line `data` field would.
    const [head, tail] = [text.slice(0, text.indexOf(',') + 1), text.slice(text.indexOf(',') + 1)];
    const feed = scriptedFeed([
      [
        'retry: 2000\r\n\r\n',
        // One event whose data spans two lines; the CR ending the first is in one chunk, its LF in the next.
        `id: 9-1\r\nevent: revocation\r\ndata: ${head}\r`,
        `\ndata: ${tail}\r`,
        '\n\r',
        '\n',
        // A second event, so the test knows the first was handled.
        `event: revocation\rdata: ${revocation('s2')}\r\r`,
      ],
    ]);
    const { set, options } = feedOptions(feed.fetch);
    const running = startFeed(options);
    try {
      await running.ready;
      await until(() => set.reason(claims('s2'), Date.now()) !== null, 'the second revocation');
      assert.match(set.reason(claims('s1'), Date.now()) ?? '', /session/, 'the split event was applied');
      assert.equal(running.status().rejectedEntries, 0, 'nothing was cut in two');
    } finally {
      running.stop();
    }
  });

  it('skips entries that are not valid revocations, in the snapshot and the stream', async () => {
    const feed = scriptedFeed(
      [
        [
          'event: revocation\ndata: {"type":"session","until_ms":5}\n\n',
          'event: revocation\ndata: not json\n\n',
          `event: revocation\ndata: ${revocation('s3')}\n\n`,
        ],
      ],
      { cursor: '1-0', revocations: [{ type: 'user', sub: 'u1', min_ver: 'x', until_ms: 1 }, 7] },
    );
    const { set, options } = feedOptions(feed.fetch);
    const running = startFeed(options);
    try {
      await running.ready;
      await until(() => set.reason(claims('s3'), Date.now()) !== null, 'the valid revocation');
      assert.equal(running.status().rejectedEntries, 4);
      assert.equal(set.size(), 1);
    } finally {
      running.stop();
    }
  });

  it('drops a stream that falls silent and resumes from the last event id', async () => {
    const feed = scriptedFeed([
      ['event: heartbeat\ndata: {}\n\n', `id: 42-1\nevent: revocation\ndata: ${revocation('s4')}\n\n`],
      ['event: heartbeat\ndata: {}\n\n', `id: 43-1\nevent: revocation\ndata: ${revocation('s5')}\n\n`],
    ]);
    const { set, options } = feedOptions(feed.fetch, 200);
    const running = startFeed(options);
    try {
      await running.ready;
      await until(
        () => set.reason(claims('s5'), Date.now()) !== null,
        'the revocation sent after reconnecting',
      );
      assert.equal(feed.requests[1]?.get('last-event-id'), '42-1');
      assert.equal(running.status().reconnects, 1);
      assert.match(running.status().lastError ?? '', /silent for 200 ms/);
    } finally {
      running.stop();
    }
  });
});
