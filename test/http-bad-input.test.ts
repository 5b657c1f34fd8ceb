import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { assertCleanError } from './helpers/bad-input.ts';
import { call, PASSWORD, registerUser, startTestServer, type TestServer } from './helpers/server.ts';

let t: TestServer;
let victim: Awaited<ReturnType<typeof registerUser>>;
before(async () => {
  t = await startTestServer();
  victim = await registerUser(t.url, 'victim@example.com');
});
after(async () => {
  await t.close();
});

/** Everything that must not move when a request fails. */
async function stateOf() {
  const session = await t.server.store.findSession(victim.session_id);
  const user = await t.server.store.findUserByEmail('victim@example.com');
  const sessions = user ? await t.server.store.listLiveSessions(user.id, t.clock.now()) : [];
  return {
    session,
    user,
    sessions: sessions.length,
    bob: await t.server.store.findUserByEmail('bob@example.com'),
  };
}

const JSON_ROUTES: Array<{
  method: string;
  path: string;
  bearer?: boolean;
  fields: Record<string, unknown>;
}> = [
  { method: 'POST', path: '/auth/register', fields: { email: 'bob@example.com', password: PASSWORD } },
  { method: 'POST', path: '/auth/login', fields: { email: 'victim@example.com', password: PASSWORD } },
  { method: 'POST', path: '/auth/refresh', fields: { refresh_token: 'tsr_x' } },
  { method: 'POST', path: '/auth/logout', fields: { refresh_token: 'tsr_x' } },
  {
    method: 'POST',
    path: '/auth/password',
    bearer: true,
    fields: { current_password: PASSWORD, new_password: 'new long passphrase' },
  },
  { method: 'PATCH', path: '/auth/me', bearer: true, fields: { name: 'Bob' } },
  { method: 'POST', path: '/auth/logout-all', bearer: true, fields: {} },
  { method: 'POST', path: '/auth/renew', bearer: true, fields: {} },
  { method: 'POST', path: '/auth/reauthenticate', bearer: true, fields: { password: PASSWORD } },
  { method: 'POST', path: '/auth/mfa/totp/enroll', bearer: true, fields: {} },
  { method: 'POST', path: '/auth/mfa/totp/confirm', bearer: true, fields: { code: '123456' } },
  { method: 'DELETE', path: '/auth/mfa/totp', bearer: true, fields: { code: '123456' } },
  { method: 'POST', path: '/auth/mfa/recovery-codes', bearer: true, fields: {} },
];
const OAUTH_ROUTES = ['/oauth/token', '/oauth/revoke', '/oauth/introspect'];

describe('bad input on every JSON route', () => {
  for (const route of JSON_ROUTES) {
    it(`${route.method} ${route.path}`, async () => {
      const before = await stateOf();
      const token = route.bearer ? victim.access_token : undefined;
      const send = (body: string, contentType = 'application/json') =>
        call(t.url, route.method, route.path, {
          body,
          headers: { 'content-type': contentType },
          ...(token ? { token } : {}),
        });
      const cases: Array<[string, () => ReturnType<typeof call>, number?]> = [
        ['malformed JSON', () => send('{"email": ')],
        ['an array', () => send('[1,2]')],
        ['a string', () => send('"hello"')],
        ['a number', () => send('42')],
        ['null', () => send('null')],
        [
          'text/plain',
          () => send(JSON.stringify(route.fields), 'text/plain'),
          ['/auth/refresh', '/auth/renew'].includes(route.path) ? 400 : 415,
        ],
        [
          'multipart',
          () => send('--x\r\n\r\n--x--', 'multipart/form-data; boundary=x'),
          ['/auth/refresh', '/auth/renew'].includes(route.path) ? 400 : 415,
        ],
        ['invalid UTF-8', () => send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('latin1'))],
        ['an unknown field', () => send(JSON.stringify({ ...route.fields, is_admin: true }))],
        ['a body over 16 KB', () => send(JSON.stringify({ ...route.fields, pad: 'x'.repeat(17_000) })), 413],
        [
          'a bad Tessera-Transport',
          () =>
            call(t.url, route.method, route.path, {
              json: route.fields,
              headers: { 'tessera-transport': 'pigeon' },
              ...(token ? { token } : {}),
            }),
        ],
      ];
      for (const name of Object.keys(route.fields)) {
        for (const [kind, value] of [
          ['number', 7],
          ['object', { a: 1 }],
          ['array', ['x']],
          ['boolean', true],
          ['null', null],
        ] as const) {
          if (route.path === '/auth/me' && kind === 'null') continue; // null clears a profile field
          cases.push([`${name} as ${kind}`, () => send(JSON.stringify({ ...route.fields, [name]: value }))]);
        }
        if (route.path !== '/auth/me') {
          const { [name]: _, ...rest } = route.fields;
          if (!['refresh_token'].includes(name))
            cases.push([`missing ${name}`, () => send(JSON.stringify(rest))]);
        }
      }
      for (const [label, run, status] of cases) {
        const response = await run();
        assertCleanError(response, `${route.path} ${label}`);
        if (status) assert.equal(response.status, status, `${route.path} ${label}`);
      }
      assert.deepEqual(await stateOf(), before, `${route.method} ${route.path}: state unchanged`);
    });
  }
});

describe('semantic limits', () => {
  it('rejects absurd emails and passwords with stable codes and changes nothing', async () => {
    const before = await stateOf();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ email: `${'a'.repeat(243)}@example.com`, password: PASSWORD }, 'invalid_email'],
      [{ email: `${'a'.repeat(10_000)}@example.com`, password: PASSWORD }, 'invalid_email'],
      [{ email: 'no-at-sign', password: PASSWORD }, 'invalid_email'],
      [{ email: 'bob@example.com', password: 'short12' }, 'invalid_password'],
      [{ email: 'bob@example.com', password: 'p'.repeat(1025) }, 'invalid_password'],
      [{ email: 'bob@example.com', password: 'iloveyou123' }, 'common_password'],
      [{ email: 'bob@example.com', password: 'PASSWORD1' }, 'common_password'],
    ];
    for (const [body, code] of cases) {
      const response = await call(t.url, 'POST', '/auth/register', { json: body });
      assert.equal(response.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(response.body.error, code);
      assert.ok(response.body.field);
    }
    const long = await call(t.url, 'POST', '/auth/login', {
      json: { email: 'victim@example.com', password: 'p'.repeat(1025) },
    });
    assert.equal(long.body.error, 'invalid_password');
    const bad = await call(t.url, 'PATCH', '/auth/me', {
      token: victim.access_token,
      json: { phone_number: '12' },
    });
    assert.equal(bad.body.error, 'invalid_request');
    const control = await call(t.url, 'PATCH', '/auth/me', {
      token: victim.access_token,
      json: { name: 'a\u0000b' },
    });
    assert.equal(control.body.error, 'invalid_request');
    const empty = await call(t.url, 'PATCH', '/auth/me', { token: victim.access_token, json: {} });
    assert.equal(empty.body.error, 'invalid_request');
    assert.deepEqual(await stateOf(), before);
  });

  it('answers DELETE /auth/sessions/:id with 404 for unknown, foreign or malformed ids', async () => {
    const before = await stateOf();
    for (const id of ['nope', 'x'.repeat(200), '%E0%A4%A', '..%2F..', victim.session_id]) {
      const stranger = await registerUser(t.url);
      const response = await call(t.url, 'DELETE', `/auth/sessions/${id}`, { token: stranger.access_token });
      assertCleanError(response, `DELETE ${id}`);
      // A malformed percent-encoding is a malformed URL (400); any other id is simply not yours (404).
      assert.equal(response.status, id.startsWith('%E0') ? 400 : 404, id);
    }
    const { sessions, session, user } = await stateOf();
    assert.deepEqual(
      { sessions, session, user },
      { sessions: before.sessions, session: before.session, user: before.user },
    );
  });
});

describe('bad input on the OAuth routes (RFC 6749 §5.2 shape)', () => {
  for (const path of OAUTH_ROUTES) {
    it(path, async () => {
      const before = await stateOf();
      const form = (body: string) =>
        call(t.url, 'POST', path, { body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      const cases: Array<[string, () => ReturnType<typeof call>, number]> = [
        ['no body', () => call(t.url, 'POST', path), 400],
        [
          'text/plain',
          () => call(t.url, 'POST', path, { body: 'token=x', headers: { 'content-type': 'text/plain' } }),
          400,
        ],
        [
          'malformed JSON',
          () => call(t.url, 'POST', path, { body: '{', headers: { 'content-type': 'application/json' } }),
          400,
        ],
        ['a repeated parameter', () => form('token=a&token=b&grant_type=refresh_token&grant_type=x'), 400],
        ['a body over 16 KB', () => form(`token=${'x'.repeat(17_000)}`), 413],
        [
          'a number as token',
          () =>
            call(t.url, 'POST', path, { json: { token: 5, refresh_token: 5, grant_type: 'refresh_token' } }),
          400,
        ],
      ];
      for (const [label, run, status] of cases) {
        const response = await run();
        assertCleanError(response, `${path} ${label}`);
        assert.equal(response.status, status, `${path} ${label}`);
      }
      // Unknown parameters are ignored (RFC 6749 §3.2), not refused.
      if (path === '/oauth/token') {
        const ignored = await form(`grant_type=refresh_token&refresh_token=tsr_forged&client_id=x&unknown=1`);
        assert.equal(ignored.body.error, 'invalid_grant');
      } else {
        const ignored = await form('token=garbage&unknown=1');
        assert.equal(ignored.status, 200);
      }
      assert.deepEqual(await stateOf(), before);
    });
  }
});

describe('transport edge cases', () => {
  it('refuses a chunked body over the limit without buffering it all, and never answers 500', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL('/auth/login', t.url);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', (error) =>
        error.message.includes('EPIPE') || error.message.includes('ECONNRESET')
          ? resolve(413)
          : reject(error),
      );
      for (let i = 0; i < 40; i += 1) req.write('x'.repeat(1024));
      req.end();
    });
    assert.equal(status, 413);
    for (const [method, path] of [
      ['PUT', '/auth/login'],
      ['GET', '/oauth/token'],
      ['DELETE', '/auth/me'],
      ['POST', '/.well-known/jwks.json'],
    ]) {
      const response = await call(t.url, method as string, path as string);
      assertCleanError(response, `${method} ${path}`);
      assert.equal(response.status, 405);
    }
  });
});
