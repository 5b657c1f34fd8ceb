import { connect } from 'node:net';

/** One HTTP response read off the wire. */
export interface RawResponse {
  status: number;
  /** Header names lower-cased; repeated headers joined with `\n`. */
  headers: Map<string, string>;
  body: Buffer;
}

/** What came back for the bytes sent. */
export interface RawExchange {
  /** Every response on the connection, in order (a lying `Content-Length` can make the server answer twice). */
  responses: RawResponse[];
  /** The connection was still open when the time ran out, with no complete response. */
  timedOut: boolean;
}

const HEAD_END = Buffer.from('\r\n\r\n');

// An HTTP/1.1 response reader of just what the fuzz test needs: we must send bytes no client library
// would (CR/LF and NUL in headers, invalid UTF-8, lying lengths), so the exchange happens on a socket.
function parseResponses(data: Buffer, headRequest: boolean, closed: boolean): RawResponse[] | null {
  const responses: RawResponse[] = [];
  let offset = 0;
  while (offset < data.length) {
    const end = data.indexOf(HEAD_END, offset);
    if (end < 0) return closed ? responses : null;
    const lines = data.subarray(offset, end).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? Number.NaN);
    if (!Number.isInteger(status)) throw new Error(`not an HTTP response: ${JSON.stringify(lines[0])}`);
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers.set(name, headers.has(name) ? `${headers.get(name)}\n${value}` : value);
    }
    let cursor = end + HEAD_END.length;
    let body: Buffer;
    const noBody = headRequest || status === 204 || status === 304 || (status >= 100 && status < 200);
    if (noBody) {
      body = Buffer.alloc(0);
    } else if ((headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      // An endless stream: its head is all we judge.
      responses.push({ status, headers, body: Buffer.alloc(0) });
      return responses;
    } else if (/chunked/i.test(headers.get('transfer-encoding') ?? '')) {
      const chunks: Buffer[] = [];
      for (;;) {
        const lineEnd = data.indexOf('\r\n', cursor);
        if (lineEnd < 0)
          return closed ? [...responses, { status, headers, body: Buffer.concat(chunks) }] : null;
        const size = Number.parseInt(data.subarray(cursor, lineEnd).toString('latin1'), 16);
        cursor = lineEnd + 2;
        if (size === 0) {
          const trailerEnd = data.indexOf('\r\n', cursor);
          if (trailerEnd < 0)
            return closed ? [...responses, { status, headers, body: Buffer.concat(chunks) }] : null;
          cursor = trailerEnd + 2;
          break;
        }
        if (cursor + size + 2 > data.length) {
          return closed ? [...responses, { status, headers, body: Buffer.concat(chunks) }] : null;
        }
        chunks.push(data.subarray(cursor, cursor + size));
        cursor += size + 2;
      }
      body = Buffer.concat(chunks);
    } else if (headers.has('content-length')) {
      const length = Number(headers.get('content-length'));
      if (cursor + length > data.length)
        return closed ? [...responses, { status, headers, body: data.subarray(cursor) }] : null;
      body = data.subarray(cursor, cursor + length);
      cursor += length;
    } else {
      if (!closed) return null;
      body = data.subarray(cursor);
      cursor = data.length;
    }
    responses.push({ status, headers, body });
    offset = cursor;
    // Only the first response answers a HEAD; later ones (pipelined garbage) have bodies.
    headRequest = false;
  }
  return responses;
}

/**
 * Sends `bytes` on a fresh connection to `url`'s host and port and reads responses until the server
 * closes the connection, an event stream starts, or `timeoutMs` passes. With `halfClose` the sending side
 * is closed after the bytes (so a body shorter than its declared length ends; Node then drops the
 * request unanswered, as it does for any client that half-closes).
 */
export function exchange(
  url: string,
  bytes: Buffer,
  options: { head: boolean; timeoutMs: number; halfClose: boolean },
): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const received: Buffer[] = [];
    let settled = false;
    const finish = (timedOut: boolean, closed: boolean) => {
      if (settled) return;
      const data = Buffer.concat(received);
      let responses: RawResponse[] | null;
      try {
        responses = parseResponses(data, options.head, closed || timedOut);
      } catch (error) {
        settled = true;
        socket.destroy();
        reject(error);
        return;
      }
      if (responses === null && !timedOut) return;
      const streamed = responses?.some((r) =>
        (r.headers.get('content-type') ?? '').startsWith('text/event-stream'),
      );
      if (!closed && !timedOut && !streamed) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses: responses ?? [], timedOut: timedOut && !closed && !streamed });
    };
    const timer = setTimeout(() => finish(true, false), options.timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      finish(false, false);
    });
    socket.on('end', () => finish(false, true));
    socket.on('close', () => finish(false, true));
    // A reset after the server answered is fine; before, it shows as no response.
    socket.on('error', () => finish(false, true));
    socket.on('connect', () => {
      socket.write(bytes);
      if (options.halfClose) socket.end();
    });
  });
}
