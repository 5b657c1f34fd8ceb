// One raw HTTP/1.1 connection, for what a regular client cannot do on purpose: hold a request
// between its head and its body, and pipeline a second request behind it (node:http's client never
// pipelines). The responses are parsed just enough for the tests: status, headers, a
// content-length or chunked body.
import { connect, type Socket } from 'node:net';
import type { Answer } from './http-probe.ts';

/** A raw connection to a server. */
export interface RawConnection {
  /** Writes bytes as they are. */
  write(text: string): void;
  /** Every response parsed so far, in order. */
  readonly responses: Answer[];
  /** Resolves once `count` responses (1xx included) have arrived; rejects after `ms`. */
  waitForResponses(count: number, ms: number): Promise<void>;
  /** How the connection ended: `end` (the server closed it cleanly) or the error code (`ECONNRESET`). */
  readonly ended: Promise<string>;
  destroy(): void;
}

/** Parses complete responses (interim `1xx` ones included) off the front of `buffer`; returns the rest. */
function parse(buffer: Buffer, into: Answer[]): Buffer {
  for (;;) {
    const headEnd = buffer.indexOf('\r\n\r\n');
    if (headEnd < 0) return buffer;
    const [statusLine = '', ...lines] = buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
    const status = Number(statusLine.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let rest = buffer.subarray(headEnd + 4);
    let text = '';
    if (status >= 200 && status !== 204 && status !== 304) {
      if (headers['transfer-encoding']?.includes('chunked')) {
        const chunks: Buffer[] = [];
        let at = 0;
        for (;;) {
          const lineEnd = rest.indexOf('\r\n', at);
          if (lineEnd < 0) return buffer;
          const size = Number.parseInt(rest.subarray(at, lineEnd).toString('latin1'), 16);
          if (rest.length < lineEnd + 2 + size + 2) return buffer;
          chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
          at = lineEnd + 2 + size + 2;
          if (size === 0) break;
        }
        text = Buffer.concat(chunks).toString('utf8');
        rest = rest.subarray(at);
      } else {
        const length = Number(headers['content-length'] ?? 0);
        if (rest.length < length) return buffer;
        text = rest.subarray(0, length).toString('utf8');
        rest = rest.subarray(length);
      }
    }
    let body: unknown = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    into.push({ status, headers, text, body });
    buffer = rest;
  }
}

/** Opens a raw connection to the host and port of `url`; resolves once connected. */
export async function openRawConnection(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket: Socket = connect({ host: hostname, port: Number(port) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const responses: Answer[] = [];
  let pending: Buffer = Buffer.alloc(0);
  const waiters = new Set<() => void>();
  socket.on('data', (chunk: Buffer) => {
    pending = parse(Buffer.concat([pending, chunk]), responses);
    for (const waiter of waiters) waiter();
  });
  const ended = new Promise<string>((resolve) => {
    socket.once('end', () => resolve('end'));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.once('close', () => resolve('end'));
  });
  return {
    write: (text) => {
      socket.write(text);
    },
    responses,
    ended,
    waitForResponses(count, ms) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (responses.length >= count) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${responses.length} of ${count} responses within ${ms} ms`));
        }, ms);
        waiters.add(check);
        check();
        void ended.then(() => {
          if (responses.length < count) {
            clearTimeout(timer);
            waiters.delete(check);
            reject(new Error(`the connection ended after ${responses.length} of ${count} responses`));
          }
        });
      });
    },
    destroy: () => {
      socket.destroy();
    },
  };
}
