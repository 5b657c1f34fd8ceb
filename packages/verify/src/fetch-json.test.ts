import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { displayUrl, FetchFailure, fetchJson } from './fetch-json.ts';

let base: string;
let close: () => Promise<void>;

describe('fetchJson', () => {
  before(async () => {
    const server = createServer((req, res) => {
      if (req.url === '/ok') return void res.end('{"a":1}');
      if (req.url === '/trickle') {
        // Headers and a first byte, then nothing: a body that never ends.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{');
        return;
      }
      if (req.url === '/html') return void res.end('<html>');
      if (req.url === '/hang') return;
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    close = async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    };
  });
  after(() => close());

  const get = (path: string, timeoutMs = 300) => fetchJson(`${base}${path}`, { fetch, timeoutMs });
  const fails = async (path: string, message: RegExp, status: number | null = null) => {
    await assert.rejects(get(path), (error: unknown) => {
      assert.ok(error instanceof FetchFailure);
      assert.match(error.message, message);
      assert.equal(error.status, status);
      return true;
    });
  };

  it('answers the parsed body', async () => {
    assert.deepEqual((await get('/ok')).body, { a: 1 });
  });

  it('cuts off a server that never answers, or trickles its body, at the timeout', async () => {
    for (const path of ['/hang', '/trickle']) {
      const started = performance.now();
      await fails(path, new RegExp(`GET ${base}${path} timed out after 300 ms`));
      assert.ok(performance.now() - started < 2300, path);
    }
  });

  it('names the status, the connection error or the bad body', async () => {
    await fails('/missing', /answered 404$/, 404);
    await fails('/html', /answered 200 with a body that is not JSON/);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(
      fetchJson(`http://127.0.0.1:${port}/x`, { fetch, timeoutMs: 2000 }),
      /failed \(ECONNREFUSED\)/,
    );
  });

  it('never shows user info or a query in a message', () => {
    assert.equal(
      displayUrl('https://user:secret@auth.example.com/jwks?key=abc'),
      'https://auth.example.com/jwks?…',
    );
    assert.equal(displayUrl('not a url'), '(an invalid URL)');
  });
});
