import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createHandler } from '@tessera/server';
import { ConfigError, resolveConfig } from '@tessera/standalone';
import { call, PASSWORD, registerUser, startTestServer, type TestServer } from './helpers/server.ts';

const SERVICE_TOKEN = 'service-token-for-the-hardening-tests-0123456789';
const SECURITY = ['x-content-type-options', 'x-frame-options', 'referrer-policy', 'content-security-policy'];

function assertSecurityHeaders(headers: Headers | Record<string, string>, label: string): void {
  const get = (name: string) => (headers instanceof Headers ? headers.get(name) : (headers[name] ?? null));
  for (const name of SECURITY) assert.ok(get(name), `${label}: ${name}`);
}

/** Sends raw bytes on a new connection and resolves to the status line and headers the server answers. */
function rawRequest(
  url: string,
  text: string,
  options: { keepOpenMs?: number } = {},
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(text);
      if (options.keepOpenMs === undefined) socket.end();
    });
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      data += chunk;
    });
    socket.on('error', reject);
    if (options.keepOpenMs !== undefined) socket.setTimeout(options.keepOpenMs, () => socket.destroy());
    socket.on('close', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body });
    });
  });
}

/** A request through node:http, which (unlike fetch) sends the `Host` header it is given. */
function withHost(
  url: string,
  method: string,
  path: string,
  host: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; headers: Record<string, string>; body: any }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname,
        port,
        method,
        path,
        headers: { ...headers, host, ...(body ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers as Record<string, string>,
            body: JSON.parse(text || 'null'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('issue 10 finding 4: trusted proxies', () => {
  it('refuses to start with proxy trust and no service token; true still means one hop, with a warning', () => {
    assert.throws(
      () => resolveConfig({ env: { TESSERA_TRUST_PROXY: '1' } }),
      (error: unknown) => error instanceof ConfigError && error.setting === 'TESSERA_TRUST_PROXY',
    );
    assert.throws(
      () =>
        resolveConfig({ env: { TESSERA_TRUST_PROXY: '10.0.0.0/33', TESSERA_SERVICE_TOKEN: SERVICE_TOKEN } }),
      /CIDR/,
    );
    const legacy = resolveConfig({
      env: { TESSERA_TRUST_PROXY: 'true', TESSERA_SERVICE_TOKEN: SERVICE_TOKEN },
    });
    assert.deepEqual(legacy.trustProxy, { hops: 1 });
    assert.match(legacy.deprecations.join('\n'), /TESSERA_TRUST_PROXY=true is deprecated/);
    const cidrs = resolveConfig({
      env: { TESSERA_TRUST_PROXY: '10.0.0.0/8, fd00::/8', TESSERA_SERVICE_TOKEN: SERVICE_TOKEN },
    });
    assert.deepEqual(cidrs.trustProxy, { cidrs: ['10.0.0.0/8', 'fd00::/8'] });
    assert.equal(resolveConfig({ env: { TESSERA_TRUST_PROXY: 'false' } }).trustProxy, null);
  });

  describe('behind one proxy hop', () => {
    let t: TestServer;
    before(async () => {
      t = await startTestServer({
        TESSERA_TRUST_PROXY: '1',
        TESSERA_SERVICE_TOKEN: SERVICE_TOKEN,
        TESSERA_RATE_LIMIT: 'on',
      });
    });
    after(() => t.close());

    it('is refused by createHandler too without a service token (library mode)', () => {
      assert.throws(
        () => createHandler({ engine: t.server.engine, trustProxy: 1 }),
        /trustProxy needs serviceToken/,
      );
      assert.throws(
        () => createHandler({ engine: t.server.engine, trustProxy: ['10.0.0.0/8'] }),
        /trustProxy needs serviceToken/,
      );
      createHandler({ engine: t.server.engine, trustProxy: 1, serviceToken: SERVICE_TOKEN }).close();
    });

    it('records the address the proxy saw, not what the client wrote', async () => {
      const reg = await call(t.url, 'POST', '/auth/register', {
        json: { email: 'proxied@example.com', password: PASSWORD },
        headers: { 'x-forwarded-for': '127.0.0.1, 198.51.100.7' },
      });
      assert.equal(reg.status, 201, reg.text);
      const list = await call(t.url, 'GET', '/auth/sessions', { token: reg.body.access_token });
      assert.deepEqual(
        list.body.sessions.map((s: { ip: string }) => s.ip),
        ['198.51.100.7'],
      );
    });

    it('does not open service routes to a spoofed loopback address', async () => {
      const spoofed = await call(t.url, 'GET', '/auth/revocations', {
        headers: { 'x-forwarded-for': '127.0.0.1' },
      });
      assert.equal(spoofed.status, 401);
      const metrics = await call(t.url, 'GET', '/metrics', {
        headers: { 'x-forwarded-for': '127.0.0.1, ::1' },
      });
      assert.equal(metrics.status, 401);
    });

    it('keeps per-IP limits when the client rotates what it writes in X-Forwarded-For', async () => {
      let status = 0;
      let attempts = 0;
      for (; attempts < 40 && status !== 429; attempts += 1) {
        status = (
          await call(t.url, 'POST', '/auth/login', {
            json: { email: `n${attempts}@example.com`, password: 'not the password' },
            headers: { 'x-forwarded-for': `203.0.113.${attempts}, 198.51.100.8` },
          })
        ).status;
      }
      assert.equal(status, 429);
      assert.equal(attempts, 31, 'the 31st attempt from the one real address is refused');
      // Another real address is not affected.
      const other = await call(t.url, 'POST', '/auth/login', {
        json: { email: 'someone@example.com', password: 'not the password' },
        headers: { 'x-forwarded-for': '198.51.100.9' },
      });
      assert.equal(other.status, 401);
    });
  });
});

describe('issue 10 findings 8, 9, 10, 14 and the shutdown answer', () => {
  let t: TestServer;
  let user: Awaited<ReturnType<typeof registerUser>>;
  before(async () => {
    t = await startTestServer({
      TESSERA_REQUEST_TIMEOUT: '1s',
      TESSERA_HEADERS_TIMEOUT: '1s',
      TESSERA_FEED_STREAMS_PER_CALLER: '2',
      TESSERA_FEED_STREAMS_TOTAL: '3',
    });
    user = await registerUser(t.url);
  });
  after(() => t.close());

  it('8: never answers 500 for CR/LF or non-Latin-1 field names on bearer routes', async () => {
    const names = ['a\r\nSet-Cookie: x=1', 'na\nme', 'имя', '名前', 'x\u0000y', '😀', '"\\'];
    for (const [method, path] of [
      ['PATCH', '/auth/me'],
      ['POST', '/auth/password'],
      ['POST', '/auth/logout-all'],
    ] as const) {
      for (const name of names) {
        const body =
          path === '/auth/password'
            ? { current_password: PASSWORD, new_password: 'another fine passphrase', [name]: 'x' }
            : { [name]: 'x' };
        const response = await call(t.url, method, path, { token: user.access_token, json: body });
        assert.equal(response.status, 400, `${method} ${path} ${JSON.stringify(name)}: ${response.text}`);
        assert.equal(response.body.error, 'invalid_request');
        const challenge = response.headers.get('www-authenticate') ?? '';
        assert.match(
          challenge,
          /^Bearer realm="tessera", error="invalid_request", error_description="[\x20-\x7e]*"$/,
        );
        assert.equal(response.headers.get('set-cookie'), null);
      }
    }
    // Nothing changed: the session is alive.
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: user.access_token })).status, 200);
  });

  it('9: puts the security headers on unknown paths, malformed URLs and requests Node refuses', async () => {
    for (const path of ['/nope', '//evil.example/x', '/auth/sessions/%E0%A4%A', '/auth/../auth/me']) {
      const response = await call(t.url, 'DELETE', path);
      assert.ok(response.status === 404 || response.status === 400 || response.status === 405, path);
      assertSecurityHeaders(response.headers, path);
      assert.equal(typeof response.body.error, 'string');
    }
    for (const target of ['http://[bad/', 'http://x:99999/auth/me']) {
      const response = await rawRequest(t.url, `GET ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
      assert.equal(response.status, 400, target);
      assert.equal(JSON.parse(response.body).error, 'invalid_request');
      assertSecurityHeaders(response.headers, target);
    }
    for (const text of [
      'GET /a\u0001b HTTP/1.1\r\nHost: x\r\n\r\n',
      'NOT A REQUEST\r\n\r\n',
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    ]) {
      const response = await rawRequest(t.url, text);
      assert.ok(
        response.status === 400 || response.status === 431,
        `${JSON.stringify(text.slice(0, 20))}: ${response.status}`,
      );
      assertSecurityHeaders(response.headers, text.slice(0, 20));
      assert.equal(JSON.parse(response.body).error, 'invalid_request');
    }
  });

  it('10: times out a body that trickles, and headers that never end, with 408', async () => {
    const started = Date.now();
    const slowBody = await rawRequest(
      t.url,
      'POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"em',
      { keepOpenMs: 10_000 },
    );
    assert.equal(slowBody.status, 408);
    assert.equal(JSON.parse(slowBody.body).error, 'request_timeout');
    assertSecurityHeaders(slowBody.headers, 'slow body');
    const slowHeaders = await rawRequest(t.url, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1', {
      keepOpenMs: 10_000,
    });
    assert.equal(slowHeaders.status, 408);
    assert.ok(Date.now() - started < 8000, 'both ended within a few seconds of the 1 s timeouts');
    assert.equal(t.server.http.keepAliveTimeout, 5000);
  });

  it('10: caps revocation streams per caller and in total (429 with Retry-After); HEAD answers', async () => {
    const head = await fetch(`${t.url}/auth/revocations/stream`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(head.headers.get('content-type') ?? '', /^text\/event-stream/);
    const open: Response[] = [];
    for (let i = 0; i < 2; i += 1) {
      const stream = await fetch(`${t.url}/auth/revocations/stream`);
      assert.equal(stream.status, 200);
      open.push(stream);
    }
    const third = await call(t.url, 'GET', '/auth/revocations/stream');
    assert.equal(third.status, 429);
    assert.equal(third.body.error, 'rate_limited');
    assert.equal(third.headers.get('retry-after'), '5');
    // Closing one frees its place (the server notices the disconnect on its own schedule).
    await open.pop()?.body?.cancel();
    let reopened: Response | null = null;
    for (let attempt = 0; attempt < 100 && reopened === null; attempt += 1) {
      const again = await fetch(`${t.url}/auth/revocations/stream`);
      if (again.status === 200) reopened = again;
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(reopened, 'a closed stream frees its place');
    open.push(reopened);
    for (const stream of open) await stream.body?.cancel();
  });

  it('14: serves loopback-trusted service routes only under allowed host names', async () => {
    const rebinding = await withHost(t.url, 'GET', '/auth/revocations', 'evil.example:4000');
    assert.equal(rebinding.status, 403);
    assert.equal(rebinding.body.error, 'forbidden');
    assertSecurityHeaders(rebinding.headers, 'rebinding');
    const metrics = await withHost(t.url, 'GET', '/metrics', 'attacker.test');
    assert.equal(metrics.status, 403);
    const introspect = await withHost(
      t.url,
      'POST',
      '/oauth/introspect',
      'evil.example',
      {},
      JSON.stringify({ token: user.access_token }),
    );
    assert.equal(introspect.status, 403);
    const stream = await withHost(t.url, 'GET', '/auth/revocations/stream', 'evil.example');
    assert.equal(stream.status, 403);
    for (const host of ['localhost:1234', '127.0.0.1', '[::1]:9']) {
      const ok = await withHost(t.url, 'GET', '/auth/revocations', host);
      assert.equal(ok.status, 200, host);
    }
    // Public routes do not care.
    assert.equal((await withHost(t.url, 'GET', '/.well-known/jwks.json', 'evil.example')).status, 200);
  });

  it('answers 503 in Tessera’s shape, with the security headers, once shutting down', async () => {
    t.server.handler.close();
    const response = await call(t.url, 'POST', '/auth/login', {
      json: { email: user.email, password: PASSWORD },
    });
    assert.equal(response.status, 503);
    assert.equal(response.body.error, 'service_unavailable');
    assert.equal(response.headers.get('retry-after'), '1');
    assert.equal(response.headers.get('connection'), 'close');
    assertSecurityHeaders(response.headers, '503');
  });
});

describe('issue 10 finding 10: the total cap of revocation streams', () => {
  it('refuses a stream past the total, whoever asks', async () => {
    const t = await startTestServer({
      TESSERA_TRUST_PROXY: '1',
      TESSERA_SERVICE_TOKEN: SERVICE_TOKEN,
      TESSERA_FEED_STREAMS_PER_CALLER: '2',
      TESSERA_FEED_STREAMS_TOTAL: '3',
    });
    const open: Response[] = [];
    try {
      const from = (ip: string) =>
        fetch(`${t.url}/auth/revocations/stream`, {
          headers: { authorization: `Bearer ${SERVICE_TOKEN}`, 'x-forwarded-for': ip },
        });
      for (const ip of ['198.51.100.1', '198.51.100.2', '198.51.100.3']) {
        const stream = await from(ip);
        assert.equal(stream.status, 200, ip);
        open.push(stream);
      }
      const fourth = await from('198.51.100.4');
      assert.equal(fourth.status, 429);
      assert.equal(fourth.headers.get('retry-after'), '5');
      assert.equal(((await fourth.json()) as { error: string }).error, 'rate_limited');
    } finally {
      for (const stream of open) await stream.body?.cancel();
      await t.close();
    }
  });
});

describe('issue 10 finding 14: an explicit host list', () => {
  it('is checked for service-token callers too', async () => {
    const t = await startTestServer({
      TESSERA_SERVICE_TOKEN: SERVICE_TOKEN,
      TESSERA_ALLOWED_HOSTS: 'tessera.internal',
    });
    try {
      const auth = { authorization: `Bearer ${SERVICE_TOKEN}` };
      const wrong = await call(t.url, 'GET', '/auth/revocations', { headers: auth });
      assert.equal(wrong.status, 403);
      const right = await withHost(t.url, 'GET', '/auth/revocations', 'tessera.internal:8080', auth);
      assert.equal(right.status, 200);
    } finally {
      await t.close();
    }
  });
});
