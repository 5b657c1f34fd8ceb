import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ERROR_STATUS } from '@tessera/core';
import { call, PASSWORD, registerUser, startTestServer, type TestServer } from './helpers/server.ts';
import { startWebhookReceiver, type WebhookReceiver } from './helpers/webhook-receiver.ts';

let t: TestServer;
let receiver: WebhookReceiver;
let victim: Awaited<ReturnType<typeof registerUser>>;
/** A live token of each kind, so that a request carrying it with one bad field must still change nothing. */
const live = { reset: '', verify: '', magic: '', change: '' };

before(async () => {
  receiver = await startWebhookReceiver(() => t.clock.now());
  t = await startTestServer({ TESSERA_WEBHOOK_URL: receiver.url, TESSERA_WEBHOOK_SECRET: receiver.secret });
  victim = await registerUser(t.url, 'victim@example.com');
  const token = async (type: string, send: () => Promise<unknown>) => {
    const already = new Set(receiver.accepted);
    await send();
    return String((await receiver.next((e) => e.type === type && !already.has(e))).data.token);
  };
  live.reset = await token('password_reset.requested', () =>
    call(t.url, 'POST', '/auth/password/forgot', { json: { email: 'victim@example.com' } }),
  );
  live.verify = await token('email_verification.requested', () =>
    call(t.url, 'POST', '/auth/email/verify/request', { token: victim.access_token }),
  );
  live.magic = await token('magic_link.requested', () =>
    call(t.url, 'POST', '/auth/magic-link', { json: { email: 'victim@example.com' } }),
  );
  live.change = await token('email_change.requested', () =>
    call(t.url, 'POST', '/auth/email/change', {
      token: victim.access_token,
      json: { new_email: 'victim-new@example.com', current_password: PASSWORD },
    }),
  );
});
after(async () => {
  await t.close();
  await receiver.close();
  assert.deepEqual(receiver.rejected, []);
});

const CODES = new Set(Object.keys(ERROR_STATUS));

/** Everything a failed request must leave as it was: the user, sessions and the outbox. */
async function stateOf() {
  const user = await t.server.store.findUserByEmail('victim@example.com');
  const outbox = [];
  for (const state of ['pending', 'delivered', 'dead'] as const) {
    outbox.push(...(await t.server.store.listOutbox(state, 1000)).map((e) => e.id));
  }
  return {
    user,
    moved: await t.server.store.findUserByEmail('victim-new@example.com'),
    sessions: user ? (await t.server.store.listLiveSessions(user.id, t.clock.now())).length : 0,
    outbox: outbox.sort(),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: tests read JSON bodies loosely and assert on them.
function assertCleanError(response: { status: number; body: any; text: string }, label: string): void {
  assert.ok(response.status >= 400 && response.status < 500, `${label}: ${response.status} ${response.text}`);
  assert.ok(CODES.has(response.body?.error), `${label}: stable code ${response.body?.error}`);
  assert.ok(String(response.body.error_description ?? '').length > 10, `${label}: a sentence`);
}

const ROUTES: Array<{
  path: string;
  bearer?: boolean;
  fields: () => Record<string, unknown>;
  /** Fields the route may go without (leaving one out is not bad input). */
  optional?: readonly string[];
}> = [
  { path: '/auth/password/forgot', fields: () => ({ email: 'victim@example.com' }) },
  {
    path: '/auth/password/reset',
    fields: () => ({ token: live.reset, new_password: 'a brand new passphrase' }),
  },
  { path: '/auth/email/verify/request', bearer: true, fields: () => ({}) },
  { path: '/auth/email/verify', fields: () => ({ token: live.verify }) },
  { path: '/auth/magic-link', fields: () => ({ email: 'victim@example.com' }) },
  { path: '/auth/magic-link/verify', fields: () => ({ token: live.magic }) },
  {
    path: '/auth/email/change',
    bearer: true,
    fields: () => ({ new_email: 'elsewhere@example.com', current_password: PASSWORD }),
    optional: ['current_password'],
  },
  { path: '/auth/email/change/confirm', fields: () => ({ token: live.change }) },
];

describe('bad input on the account-lifecycle routes', () => {
  for (const route of ROUTES) {
    it(`POST ${route.path}`, async () => {
      const before = await stateOf();
      const fields = route.fields();
      const token = route.bearer ? victim.access_token : undefined;
      const send = (body: string, contentType = 'application/json') =>
        call(t.url, 'POST', route.path, {
          body,
          headers: { 'content-type': contentType },
          ...(token ? { token } : {}),
        });
      const cases: Array<[string, () => ReturnType<typeof call>, number?]> = [
        ['malformed JSON', () => send('{"token": ')],
        ['an array', () => send('[1,2]')],
        ['a string', () => send('"hello"')],
        ['a number', () => send('42')],
        ['null', () => send('null')],
        ['text/plain', () => send(JSON.stringify(fields), 'text/plain'), 415],
        ['multipart', () => send('--x\r\n\r\n--x--', 'multipart/form-data; boundary=x'), 415],
        ['invalid UTF-8', () => send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('latin1'))],
        ['an unknown field', () => send(JSON.stringify({ ...fields, is_admin: true }))],
        ['a body over 16 KB', () => send(JSON.stringify({ ...fields, pad: 'x'.repeat(17_000) })), 413],
        [
          'a bad Tessera-Transport',
          () =>
            call(t.url, 'POST', route.path, {
              json: fields,
              headers: { 'tessera-transport': 'pigeon' },
              ...(token ? { token } : {}),
            }),
        ],
      ];
      if (route.bearer) {
        cases.push(['no access token', () => call(t.url, 'POST', route.path, { json: fields }), 401]);
        cases.push([
          'a forged access token',
          () => call(t.url, 'POST', route.path, { json: fields, token: `${victim.access_token}x` }),
          401,
        ]);
      }
      for (const name of Object.keys(fields)) {
        for (const [kind, value] of [
          ['number', 7],
          ['object', { a: 1 }],
          ['array', ['x']],
          ['boolean', true],
          ['null', null],
        ] as const) {
          cases.push([`${name} as ${kind}`, () => send(JSON.stringify({ ...fields, [name]: value }))]);
        }
        const { [name]: _, ...rest } = fields;
        if (!route.optional?.includes(name))
          cases.push([`missing ${name}`, () => send(JSON.stringify(rest))]);
      }
      for (const [label, run, status] of cases) {
        const response = await run();
        if (status === 401 && response.status === 401 && !response.body?.error) continue;
        assertCleanError(response, `${route.path} ${label}`);
        if (status) assert.equal(response.status, status, `${route.path} ${label}`);
      }
      assert.deepEqual(await stateOf(), before, `${route.path}: state unchanged`);
    });
  }
});

describe('semantic limits', () => {
  it('refuses malformed emails, tokens and passwords with stable codes, changing nothing', async () => {
    const before = await stateOf();
    const cases: Array<[string, Record<string, unknown>, string, { token?: string }?]> = [
      ['/auth/password/forgot', { email: 'no-at-sign' }, 'invalid_email'],
      ['/auth/password/forgot', { email: `${'a'.repeat(250)}@example.com` }, 'invalid_email'],
      ['/auth/magic-link', { email: '<script>@example.com' }, 'invalid_email'],
      ['/auth/password/reset', { token: live.reset, new_password: 'short' }, 'invalid_password'],
      ['/auth/password/reset', { token: live.reset, new_password: 'p'.repeat(1025) }, 'invalid_password'],
      ['/auth/password/reset', { token: live.reset, new_password: 'password123' }, 'common_password'],
      [
        '/auth/password/reset',
        { token: '', new_password: 'a brand new passphrase' },
        'invalid_one_time_token',
      ],
      [
        '/auth/password/reset',
        { token: live.verify, new_password: 'a brand new passphrase' },
        'invalid_one_time_token',
      ],
      ['/auth/email/verify', { token: live.reset }, 'invalid_one_time_token'],
      ['/auth/email/verify', { token: `${live.verify}.` }, 'invalid_one_time_token'],
      ['/auth/email/verify', { token: 'A'.repeat(2048) }, 'invalid_one_time_token'],
      ['/auth/email/verify', { token: `${live.verify.slice(0, 42)}!` }, 'invalid_one_time_token'],
      ['/auth/magic-link/verify', { token: live.reset }, 'invalid_one_time_token'],
      ['/auth/magic-link/verify', { token: live.magic, device_name: '\u0000' }, 'invalid_request'],
      ['/auth/magic-link/verify', { token: live.magic, device_name: 'x'.repeat(101) }, 'invalid_request'],
      ['/auth/email/change/confirm', { token: live.magic }, 'invalid_one_time_token'],
      ['/auth/email/change/confirm', { token: `${live.change.split('.')[0]}.%%%` }, 'invalid_one_time_token'],
      [
        '/auth/email/change',
        { new_email: 'not an email', current_password: PASSWORD },
        'invalid_email',
        { token: victim.access_token },
      ],
      [
        '/auth/email/change',
        { new_email: 'victim@example.com', current_password: PASSWORD },
        'invalid_request',
        { token: victim.access_token },
      ],
      [
        '/auth/email/change',
        { new_email: 'other@example.com', current_password: 'x'.repeat(2000) },
        'invalid_password',
        { token: victim.access_token },
      ],
    ];
    for (const [path, json, code, extra] of cases) {
      const response = await call(t.url, 'POST', path, { json, ...extra });
      assertCleanError(response, `${path} ${JSON.stringify(json).slice(0, 60)}`);
      assert.equal(response.body.error, code, `${path} ${JSON.stringify(json).slice(0, 60)}`);
      assert.equal(response.status, ERROR_STATUS[code as keyof typeof ERROR_STATUS]);
    }
    assert.deepEqual(await stateOf(), before);
  });

  it('answers the admin webhook routes 4xx for bad queries and ids', async () => {
    const before = await stateOf();
    for (const query of [
      'state=lost',
      'state=',
      'limit=abc',
      'limit=0',
      'limit=5000',
      'limit=-1',
      'limit=1e3',
    ]) {
      const response = await call(t.url, 'GET', `/admin/webhooks?${query}`);
      assertCleanError(response, query);
      assert.equal(response.status, 400, query);
    }
    for (const id of ['nope', 'x'.repeat(300), '..%2F..', '%E0%A4%A', 'msg_%00']) {
      const response = await call(t.url, 'POST', `/admin/webhooks/${id}/replay`);
      assertCleanError(response, id);
      assert.equal(response.status, id.startsWith('%E0') ? 400 : 404, id);
    }
    const body = await call(t.url, 'POST', '/admin/webhooks/nope/replay', { json: { force: true } });
    assert.equal(body.body.error, 'invalid_request');
    assert.deepEqual(await stateOf(), before);
  });

  it('still accepts each live token afterwards: the failures spent nothing', async () => {
    const verify = await call(t.url, 'POST', '/auth/email/verify', { json: { token: live.verify } });
    assert.equal(verify.status, 200, verify.text);
    const magic = await call(t.url, 'POST', '/auth/magic-link/verify', { json: { token: live.magic } });
    assert.equal(magic.status, 200, magic.text);
    const change = await call(t.url, 'POST', '/auth/email/change/confirm', { json: { token: live.change } });
    assert.equal(change.status, 200, change.text);
    const reset = await call(t.url, 'POST', '/auth/password/reset', {
      json: { token: live.reset, new_password: 'a brand new passphrase' },
    });
    // Sent to the old address before the email change just above: refused, as it should be.
    assert.equal(reset.body.error, 'invalid_one_time_token');
  });
});
