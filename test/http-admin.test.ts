import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { assertCleanError, sendBadJson, usersState } from './helpers/bad-input.ts';
import { call, registerUser, startTestServer, type TestServer } from './helpers/server.ts';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.close();
});

// biome-ignore lint/suspicious/noExplicitAny: tests read JSON bodies loosely.
type Json = any;

async function admin(method: string, path: string, json?: unknown, headers: Record<string, string> = {}) {
  return call(t.url, method, path, { ...(json === undefined ? {} : { json }), headers });
}

async function newUser(body: Record<string, unknown> = {}): Promise<Json> {
  const response = await admin('POST', '/admin/users', body);
  assert.equal(response.status, 201, response.text);
  return response.body;
}

describe('admin API', () => {
  it('creates and finds users, starts a session the backend authenticated, and manages it like any other', async () => {
    const user = await newUser({
      email: 'Grace@Example.com',
      email_verified: true,
      roles: ['editor'],
      profile: { name: 'Grace Hopper' },
    });
    assert.equal(user.email, 'grace@example.com');
    assert.equal(user.email_verified, true);
    assert.deepEqual(user.roles, ['editor']);
    assert.deepEqual(user.profile, { name: 'Grace Hopper', phone_number: null });
    assert.equal(user.token_version, 1);
    const found = await admin('GET', '/admin/users?email=GRACE@example.com');
    assert.deepEqual(found.body, { users: [user], next_cursor: null });
    assert.deepEqual((await admin('GET', '/admin/users?email=nobody@example.com')).body.users, []);
    assert.deepEqual((await admin('GET', `/admin/users/${user.id}`)).body, user);

    const started = await admin('POST', `/admin/users/${user.id}/sessions`, {
      amr: ['hwk', 'user'],
      acr: 'urn:example:aal2',
      device_name: 'Grace’s laptop',
      ip: '198.51.100.4',
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0',
    });
    assert.equal(started.status, 201, started.text);
    assert.equal(started.headers.get('cache-control'), 'no-store');
    assert.match(started.body.refresh_token, /^tsr_/);
    assert.equal(started.headers.get('set-cookie'), null);
    const claims = JSON.parse(Buffer.from(started.body.access_token.split('.')[1], 'base64url').toString());
    assert.deepEqual(
      [claims.sub, claims.amr, claims.acr, claims.roles],
      [user.id, ['hwk', 'user'], 'urn:example:aal2', ['editor']],
    );

    const listed = await admin('GET', `/admin/users/${user.id}/sessions`);
    assert.equal(listed.body.sessions.length, 1);
    const [session] = listed.body.sessions;
    assert.equal(session.id, started.body.session_id);
    assert.equal(session.device_name, 'Grace’s laptop');
    assert.equal(session.ip, '198.51.100.4');
    assert.deepEqual(session.amr, ['hwk', 'user']);
    assert.equal(session.acr, 'urn:example:aal2');
    for (const field of ['created_at', 'last_seen_at', 'auth_time', 'expires_at']) {
      assert.ok(!Number.isNaN(Date.parse(session[field])), field);
    }
    const rotated = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: started.body.refresh_token },
    });
    assert.equal(rotated.status, 200);
    assert.equal(rotated.body.session_id, session.id);
    const own = await call(t.url, 'GET', '/auth/sessions', { token: rotated.body.access_token });
    assert.equal(own.body.sessions[0].device_name, 'Grace’s laptop');
    // The device list follows the device: a refresh records the address it came from.
    assert.equal(own.body.sessions[0].ip, '127.0.0.1');

    assert.equal((await admin('DELETE', `/admin/sessions/${session.id}`)).status, 204);
    assert.equal((await admin('DELETE', `/admin/sessions/${session.id}`)).body.error, 'session_not_found');
    const ended = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: rotated.body.refresh_token },
    });
    assert.equal(ended.body.session_ended, 'revoked');

    for (let i = 0; i < 2; i += 1) await admin('POST', `/admin/users/${user.id}/sessions`, { amr: ['pwd'] });
    assert.deepEqual((await admin('DELETE', `/admin/users/${user.id}/sessions`)).body, { revoked: 2 });
    assert.deepEqual((await admin('GET', `/admin/users/${user.id}/sessions`)).body.sessions, []);
  });

  it('changes roles, profile, disabled and forced re-authentication', async () => {
    const user = await newUser();
    const session = (await admin('POST', `/admin/users/${user.id}/sessions`, { amr: ['pwd'] })).body;
    const changed = await admin('PATCH', `/admin/users/${user.id}`, {
      roles: ['admin'],
      profile: { name: 'Root' },
    });
    assert.equal(changed.status, 200, changed.text);
    assert.deepEqual(changed.body.roles, ['admin']);
    assert.equal(changed.body.profile.name, 'Root');
    assert.equal(changed.body.token_version, 2);
    // The old token's version is outdated now; a refresh carries the new roles.
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: session.access_token })).status, 401);
    const refreshed = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: session.refresh_token },
    });
    const claims = JSON.parse(Buffer.from(refreshed.body.access_token.split('.')[1], 'base64url').toString());
    assert.deepEqual(claims.roles, ['admin']);

    const reauth = await admin('PATCH', `/admin/users/${user.id}`, { reauth_required: true });
    assert.equal(reauth.status, 200);
    const refused = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: refreshed.body.refresh_token },
    });
    assert.equal(refused.body.session_ended, 'reauthentication_required');
    // A session the backend starts is the re-authentication.
    assert.equal((await admin('POST', `/admin/users/${user.id}/sessions`, { amr: ['pwd'] })).status, 201);

    const disabled = await admin('PATCH', `/admin/users/${user.id}`, { disabled: true });
    assert.equal(disabled.body.disabled, true);
    assert.deepEqual((await admin('GET', `/admin/users/${user.id}/sessions`)).body.sessions, []);
    const blocked = await admin('POST', `/admin/users/${user.id}/sessions`, { amr: ['pwd'] });
    assert.equal(blocked.status, 403);
    assert.equal(blocked.body.error, 'account_disabled');
    assert.equal((await admin('PATCH', `/admin/users/${user.id}`, { disabled: false })).body.disabled, false);
  });

  it('links, lists and unlinks identities', async () => {
    const user = await newUser();
    const other = await newUser();
    const identity = { issuer: 'https://login.example.com', subject: 'u-123' };
    const linked = await admin('POST', `/admin/users/${user.id}/identities`, identity);
    assert.equal(linked.status, 201, linked.text);
    assert.equal(linked.body.issuer, identity.issuer);
    assert.equal(linked.body.subject, identity.subject);
    assert.equal((await admin('POST', `/admin/users/${user.id}/identities`, identity)).status, 200);
    const taken = await admin('POST', `/admin/users/${other.id}/identities`, identity);
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error, 'identity_taken');
    assert.deepEqual((await admin('GET', `/admin/users/${user.id}/identities`)).body.identities, [
      linked.body,
    ]);
    const query = new URLSearchParams(identity).toString();
    assert.equal((await admin('DELETE', `/admin/users/${other.id}/identities?${query}`)).status, 404);
    assert.equal((await admin('DELETE', `/admin/users/${user.id}/identities?${query}`)).status, 204);
    assert.deepEqual((await admin('GET', `/admin/users/${user.id}/identities`)).body.identities, []);
    assert.equal((await admin('POST', `/admin/users/${other.id}/identities`, identity)).status, 201);
  });

  it('pages through users with a cursor', async () => {
    for (let i = 0; i < 5; i += 1) await newUser();
    const all = (await t.server.store.listUsers(null, 1000)).map((u) => u.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Json = await admin('GET', `/admin/users?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200);
      assert.ok(page.body.users.length <= 2);
      seen.push(...page.body.users.map((u: Json) => u.id));
      cursor = page.body.next_cursor;
    } while (cursor !== null);
    assert.deepEqual(seen, all);
  });
});

describe('admin API protection', () => {
  it('serves loopback callers only under an allowed Host, and never a browser', async () => {
    const before = await usersState(t);
    // fetch never sends a Host of our choosing; node:http does.
    const rebinding = await new Promise<{ status: number; body: Json }>((resolve, reject) => {
      const { hostname, port } = new URL(t.url);
      const headers = { host: 'evil.example', 'content-type': 'application/json' };
      const req = request({ hostname, port, method: 'POST', path: '/admin/users', headers }, (res) => {
        let text = '';
        res.on('data', (chunk) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end('{}');
    });
    assert.equal(rebinding.status, 403);
    assert.equal(rebinding.body.error, 'forbidden');
    for (const origin of ['http://127.0.0.1:4000', 'https://evil.example']) {
      const browser = await admin('POST', '/admin/users', {}, { origin });
      assert.equal(browser.status, 403, origin);
      assert.equal(browser.body.error, 'forbidden_origin');
    }
    assert.deepEqual(await usersState(t), before);
  });

  it('requires the service token when one is configured', async () => {
    const serviceToken = randomBytes(24).toString('base64url');
    const guarded = await startTestServer({ TESSERA_SERVICE_TOKEN: serviceToken });
    try {
      const missing = await call(guarded.url, 'POST', '/admin/users', { json: {} });
      assert.equal(missing.status, 401);
      assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer/);
      const wrong = await call(guarded.url, 'POST', '/admin/users', { json: {}, token: 'x'.repeat(32) });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error, 'invalid_token');
      assert.deepEqual(await guarded.server.store.listUsers(null, 10), []);
      const right = await call(guarded.url, 'POST', '/admin/users', { json: {}, token: serviceToken });
      assert.equal(right.status, 201);
    } finally {
      await guarded.close();
    }
  });

  it('is left out with adminPath: false', async () => {
    const { createHandler } = await import('@tessera/server');
    const handler = createHandler({ engine: t.server.engine, adminPath: false });
    const response = await handler(
      new Request('http://127.0.0.1:4000/admin/users', {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      }),
      { ip: '127.0.0.1' },
    );
    assert.equal(response.status, 404);
    handler.close();
  });
});

describe('admin API bad input', () => {
  it('answers every kind of bad input on every JSON admin route with a clean 4xx, changing nothing', async () => {
    const user = await newUser({ email: 'target@example.com' });
    const before = await usersState(t);
    const routes = [
      {
        method: 'POST',
        path: '/admin/users',
        fields: { email: 'new@example.com', email_verified: false, roles: ['a'], profile: { name: 'N' } },
        optional: ['email', 'email_verified', 'roles', 'profile'],
        nullable: ['email'],
      },
      {
        method: 'PATCH',
        path: `/admin/users/${user.id}`,
        fields: {
          roles: ['a'],
          profile: { name: 'N' },
          disabled: false,
          reauth_required: false,
          bump_token_version: false,
        },
        optional: ['roles', 'profile', 'disabled', 'reauth_required', 'bump_token_version'],
      },
      {
        method: 'POST',
        path: `/admin/users/${user.id}/sessions`,
        fields: {
          amr: ['pwd'],
          acr: 'x',
          auth_time: Math.floor(t.clock.now() / 1000),
          device_name: 'D',
          ip: '192.0.2.1',
          user_agent: 'UA',
        },
        optional: ['acr', 'auth_time', 'device_name', 'ip', 'user_agent'],
        nullable: ['acr', 'device_name', 'ip', 'user_agent'],
        kinds: {
          auth_time: [
            ['fraction', 1.5],
            ['string', '1700000000'],
          ] as Array<[string, unknown]>,
        },
      },
      {
        method: 'POST',
        path: `/admin/users/${user.id}/identities`,
        fields: { issuer: 'https://idp.example.com', subject: 's-1' },
      },
    ];
    for (const route of routes) await sendBadJson(t.url, route);
    assert.deepEqual(await usersState(t), before);
  });

  it('refuses what the engine refuses, unknown users and malformed ids, with stable codes', async () => {
    const user = await newUser({ email: 'taken@example.com' });
    const other = await newUser();
    await admin('POST', `/admin/users/${other.id}/identities`, {
      issuer: 'https://idp.example.com',
      subject: 'owned',
    });
    const before = await usersState(t);
    const nowSeconds = Math.floor(t.clock.now() / 1000);
    const cases: Array<[string, string, unknown, number, string, Record<string, string>?]> = [
      ['POST', '/admin/users', { email: 'taken@example.com' }, 409, 'email_taken'],
      ['POST', '/admin/users', { email: 'not an email' }, 400, 'invalid_email'],
      ['POST', '/admin/users', { email_verified: true }, 400, 'invalid_request'],
      ['POST', '/admin/users', { roles: ['x'.repeat(65)] }, 400, 'invalid_request'],
      ['POST', '/admin/users', { profile: { is_admin: 'yes' } }, 400, 'invalid_request'],
      ['POST', '/admin/users', { roles: Array(101).fill('r') }, 400, 'invalid_request'],
      ['PATCH', `/admin/users/${user.id}`, {}, 400, 'invalid_request'],
      ['PATCH', `/admin/users/${user.id}`, { profile: { phone_number: '12' } }, 400, 'invalid_request'],
      ['PATCH', '/admin/users/nobody', { disabled: true }, 404, 'not_found'],
      ['PATCH', '/admin/users/..%2F..', { disabled: true }, 404, 'not_found'],
      ['GET', '/admin/users/nobody', undefined, 404, 'not_found'],
      ['GET', `/admin/users/${'x'.repeat(200)}`, undefined, 404, 'not_found'],
      ['GET', '/admin/users?limit=0', undefined, 400, 'invalid_request'],
      ['GET', '/admin/users?limit=201', undefined, 400, 'invalid_request'],
      ['GET', '/admin/users?limit=two', undefined, 400, 'invalid_request'],
      ['GET', '/admin/users?cursor=../../x', undefined, 400, 'invalid_request'],
      ['GET', '/admin/users?page=2', undefined, 400, 'invalid_request'],
      ['GET', '/admin/users?email=a@b.co&email=c@d.co', undefined, 400, 'invalid_request'],
      ['GET', '/admin/users/nobody/sessions', undefined, 404, 'not_found'],
      ['DELETE', '/admin/users/nobody/sessions', undefined, 404, 'not_found'],
      ['DELETE', '/admin/sessions/nope', undefined, 404, 'session_not_found'],
      ['DELETE', `/admin/sessions/${'x'.repeat(100)}`, undefined, 404, 'session_not_found'],
      ['POST', '/admin/users/nobody/sessions', { amr: ['pwd'] }, 404, 'not_found'],
      ['POST', `/admin/users/${user.id}/sessions`, { amr: [] }, 400, 'invalid_request'],
      ['POST', `/admin/users/${user.id}/sessions`, { amr: ['password'] }, 400, 'invalid_request'],
      [
        'POST',
        `/admin/users/${user.id}/sessions`,
        { amr: ['pwd'], acr: 'two words' },
        400,
        'invalid_request',
      ],
      [
        'POST',
        `/admin/users/${user.id}/sessions`,
        { amr: ['pwd'], auth_time: nowSeconds + 3600 },
        400,
        'invalid_request',
      ],
      [
        'POST',
        `/admin/users/${user.id}/sessions`,
        { amr: ['pwd'], auth_time: nowSeconds - 400 * 86_400 },
        400,
        'invalid_request',
      ],
      [
        'POST',
        `/admin/users/${user.id}/sessions`,
        { amr: ['pwd'], auth_time: Number.MAX_SAFE_INTEGER },
        400,
        'invalid_request',
      ],
      [
        'POST',
        `/admin/users/${user.id}/sessions`,
        { amr: ['pwd'], device_name: '\u202eevil' },
        400,
        'invalid_request',
      ],
      [
        'POST',
        `/admin/users/${user.id}/sessions`,
        { amr: ['pwd'] },
        400,
        'invalid_request',
        { 'tessera-transport': 'cookie' },
      ],
      ['POST', `/admin/users/${user.id}/identities`, { issuer: '', subject: 'x' }, 400, 'invalid_request'],
      [
        'POST',
        `/admin/users/${user.id}/identities`,
        { issuer: 'https://idp.example.com', subject: 'owned' },
        409,
        'identity_taken',
      ],
      [
        'POST',
        '/admin/users/nobody/identities',
        { issuer: 'https://idp.example.com', subject: 'new' },
        404,
        'not_found',
      ],
      ['GET', '/admin/users/nobody/identities', undefined, 404, 'not_found'],
      ['DELETE', `/admin/users/${user.id}/identities`, undefined, 400, 'invalid_request'],
      ['DELETE', `/admin/users/${user.id}/identities?issuer=x`, undefined, 400, 'invalid_request'],
      [
        'DELETE',
        `/admin/users/${user.id}/identities?issuer=x&subject=y&z=1`,
        undefined,
        400,
        'invalid_request',
      ],
      ['PUT', '/admin/users', {}, 405, 'method_not_allowed'],
    ];
    for (const [method, path, body, status, code, headers] of cases) {
      const response = await admin(method, path, body, headers);
      const label = `${method} ${path.slice(0, 60)} ${JSON.stringify(body)?.slice(0, 60)}`;
      assertCleanError(response, label);
      assert.equal(response.status, status, `${label}: ${response.text}`);
      assert.equal(response.body.error, code, label);
    }
    assert.deepEqual(await usersState(t), before);
    assert.ok(await registerUser(t.url));
  });
});
