import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHandler } from '@tessera/server';
import { requireSession, tesseraRoutes, toNextHandlers } from '@tessera/server/next';
import { createTestEngine, ORIGIN } from './helpers/mount-contract.ts';
import { PASSWORD } from './helpers/server.ts';

// The route handlers driven with the web Requests Next passes them (app/api/[...tessera]/route.ts with
// prefix '/api'); test/example-next.test.ts runs the example app itself with next build and next start.
describe('library mode: Next.js App Router handlers', () => {
  it('serve the routes through GET, POST, PATCH, DELETE, OPTIONS and HEAD', async () => {
    const engine = await createTestEngine();
    const handler = createHandler({ engine, prefix: '/api' });
    const { GET, POST, PATCH, DELETE, OPTIONS, HEAD } = toNextHandlers(handler);
    const json = (path: string, method: string, body: unknown, headers: Record<string, string> = {}) =>
      new Request(`${ORIGIN}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const reg = await POST(
      json('/api/auth/register', 'POST', { email: 'next@example.com', password: PASSWORD }),
    );
    assert.equal(reg.status, 201);
    const tokens = (await reg.json()) as { access_token: string; refresh_token: string; session_id: string };
    const bearer = { authorization: `Bearer ${tokens.access_token}` };
    const me = await PATCH(json('/api/auth/me', 'PATCH', { name: 'Ada' }, bearer));
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { name: string }).name, 'Ada');
    const sessions = await GET(new Request(`${ORIGIN}/api/auth/sessions`, { headers: bearer }));
    assert.equal(((await sessions.json()) as { sessions: unknown[] }).sessions.length, 1);
    const preflight = await OPTIONS(
      new Request(`${ORIGIN}/api/auth/refresh`, {
        method: 'OPTIONS',
        headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
      }),
    );
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), ORIGIN);
    const head = await HEAD(new Request(`${ORIGIN}/api/.well-known/jwks.json`, { method: 'HEAD' }));
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    assert.ok(Number(head.headers.get('content-length')) > 10);
    const gone = await DELETE(
      new Request(`${ORIGIN}/api/auth/sessions/${tokens.session_id}`, { method: 'DELETE', headers: bearer }),
    );
    assert.equal(gone.status, 204);
    const after = await GET(new Request(`${ORIGIN}/api/auth/me`, { headers: bearer }));
    assert.equal(after.status, 401);
    assert.match(after.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    // A Request without a Host header (as fetch builds them) is still checked against the allowed hosts.
    const feed = await GET(new Request(`http://evil.example/api/auth/revocations`));
    assert.equal(feed.status, 403);
    handler.close();
  });

  it('come in one call from tesseraRoutes, as on every subpath', async () => {
    const engine = await createTestEngine();
    const { GET, close, handler } = tesseraRoutes({ engine, prefix: '/api' });
    const meta = await GET(new Request(`${ORIGIN}/.well-known/oauth-authorization-server`));
    assert.equal(meta.status, 200);
    assert.equal(
      ((await meta.json()) as { token_endpoint: string }).token_endpoint,
      `${ORIGIN}/api/oauth/token`,
    );
    close();
    assert.equal(handler.closed, true);
    assert.equal((await GET(new Request(`${ORIGIN}/api/auth/me`))).status, 503);
  });

  it('guards the app’s own route handlers with requireSession', async () => {
    const engine = await createTestEngine();
    const handler = createHandler({ engine });
    const session = requireSession(engine);
    const reg = await handler(
      new Request(`${ORIGIN}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'guard@example.com', password: PASSWORD }),
      }),
    );
    const { access_token: token } = (await reg.json()) as { access_token: string };
    const none = await session(new Request(`${ORIGIN}/orders`));
    assert.ok(none instanceof Response);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="tessera"');
    assert.equal(none.headers.get('x-content-type-options'), 'nosniff');
    const ok = await session(
      new Request(`${ORIGIN}/orders`, { headers: { authorization: `Bearer ${token}` } }),
    );
    assert.ok(!(ok instanceof Response));
    assert.equal(ok.claims.sub, ok.user.id);
    assert.deepEqual(ok.responseHeaders, {});
    handler.close();
  });
});

describe('toNextHandlers options', () => {
  it('makes the handler on the first request, once for concurrent requests, and again after a failure', async () => {
    const engine = await createTestEngine();
    let calls = 0;
    let fail = true;
    const { GET } = toNextHandlers(async () => {
      calls += 1;
      if (fail) throw new Error('the database is not there yet');
      return createHandler({ engine, prefix: '/api' });
    });
    assert.equal(calls, 0, 'nothing is made at import (next build imports every route)');
    await assert.rejects(GET(new Request(`${ORIGIN}/api/.well-known/jwks.json`)), /not there yet/);
    fail = false;
    const answers = await Promise.all(
      [1, 2, 3].map(() => GET(new Request(`${ORIGIN}/api/.well-known/jwks.json`))),
    );
    assert.deepEqual(
      answers.map((r) => r.status),
      [200, 200, 200],
    );
    assert.equal(calls, 2, 'one failed attempt, then one handler for every request');
  });

  it('answers paths Tessera does not serve with the app’s notFound, and its own paths as usual', async () => {
    const engine = await createTestEngine();
    const handler = createHandler({ engine, prefix: '/api' });
    const { GET } = toNextHandlers(handler, {
      notFound: () => new Response('the app’s 404', { status: 404 }),
    });
    const other = await GET(new Request(`${ORIGIN}/api/nothing-here`));
    assert.equal(other.status, 404);
    assert.equal(await other.text(), 'the app’s 404');
    const refused = await GET(new Request(`${ORIGIN}/api/auth/login`));
    assert.equal(refused.status, 405, 'a Tessera path keeps Tessera’s answer');
    handler.close();
  });
});
