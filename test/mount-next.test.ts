import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createHandler } from '@tessera/server';
import { requireSession, tesseraRoutes, toNextHandlers } from '@tessera/server/next';
import { createTestEngine, ORIGIN } from './helpers/mount-contract.ts';
import { PASSWORD } from './helpers/server.ts';

// The Next.js example app and its Chromium test come later; this drives the route handlers with the
// web Requests Next passes them (app/api/[...tessera]/route.ts with prefix '/api').
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
