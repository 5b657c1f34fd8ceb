import assert from 'node:assert/strict';
import { ERROR_STATUS } from '@tessera/core';
import { call, type TestServer } from './server.ts';

const CODES = new Set(Object.keys(ERROR_STATUS));

/** A response from {@link call}. */
export type Answer = Awaited<ReturnType<typeof call>>;

/** Asserts a clean refusal: a 4xx, a stable code from `ERROR_STATUS`, and a sentence. */
export function assertCleanError(response: Answer, label: string): void {
  assert.ok(response.status >= 400 && response.status < 500, `${label}: ${response.status} ${response.text}`);
  assert.equal(typeof response.body?.error, 'string', `${label}: error code`);
  assert.ok(CODES.has(response.body.error), `${label}: stable code ${response.body.error}`);
  assert.ok(
    typeof response.body.error_description === 'string' && response.body.error_description.length > 10,
    `${label}: sentence`,
  );
}

/** One JSON route under test: a valid body, and what each field must be. */
export interface JsonRouteCase {
  method: string;
  path: string;
  /** A valid body. */
  fields: Record<string, unknown>;
  headers?: Record<string, string>;
  /** Fields that may be absent. */
  optional?: readonly string[];
  /** Fields that may be `null`. */
  nullable?: readonly string[];
  /** Values of the wrong type for a field, beyond the defaults (number, object, array, boolean, null). */
  kinds?: Readonly<Record<string, ReadonlyArray<[string, unknown]>>>;
}

const WRONG_KINDS: ReadonlyArray<[string, unknown]> = [
  ['number', 7],
  ['object', { a: 1 }],
  ['array', ['x']],
  ['boolean', true],
  ['null', null],
];

/**
 * Sends the same battery of bad input the existing JSON routes face (malformed and non-object bodies,
 * wrong media types, invalid UTF-8, unknown fields, a body over 16 KB, a bad transport header, each field
 * of a wrong type or missing) and asserts each is a clean 4xx. A field's own valid type is skipped.
 */
export async function sendBadJson(base: string, route: JsonRouteCase): Promise<void> {
  const send = (body: string, contentType = 'application/json') =>
    call(base, route.method, route.path, {
      body,
      headers: { ...route.headers, 'content-type': contentType },
    });
  const cases: Array<[string, () => Promise<Answer>, number?]> = [
    ['malformed JSON', () => send('{"a": ')],
    ['an array', () => send('[1,2]')],
    ['a string', () => send('"hello"')],
    ['a number', () => send('42')],
    ['null', () => send('null')],
    ['text/plain', () => send(JSON.stringify(route.fields), 'text/plain'), 415],
    ['multipart', () => send('--x\r\n\r\n--x--', 'multipart/form-data; boundary=x'), 415],
    ['invalid UTF-8', () => send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]).toString('latin1'))],
    ['an unknown field', () => send(JSON.stringify({ ...route.fields, is_admin: true }))],
    ['a body over 16 KB', () => send(JSON.stringify({ ...route.fields, pad: 'x'.repeat(17_000) })), 413],
    [
      'a bad Tessera-Transport',
      () =>
        call(base, route.method, route.path, {
          json: route.fields,
          headers: { ...route.headers, 'tessera-transport': 'pigeon' },
        }),
    ],
  ];
  for (const [name, valid] of Object.entries(route.fields)) {
    for (const [kind, value] of [...WRONG_KINDS, ...(route.kinds?.[name] ?? [])]) {
      if (typeof value === typeof valid && Array.isArray(value) === Array.isArray(valid) && value !== null)
        continue;
      if (value === null && route.nullable?.includes(name)) continue;
      cases.push([`${name} as ${kind}`, () => send(JSON.stringify({ ...route.fields, [name]: value }))]);
    }
    if (!route.optional?.includes(name)) {
      const { [name]: _, ...rest } = route.fields;
      cases.push([`missing ${name}`, () => send(JSON.stringify(rest))]);
    }
  }
  for (const [label, run, status] of cases) {
    const response = await run();
    assertCleanError(response, `${route.method} ${route.path} ${label}`);
    if (status) assert.equal(response.status, status, `${route.path} ${label}`);
  }
}

/**
 * Every user of a test server with its identities and live sessions: what a refused request must leave
 * as it was.
 */
export async function usersState(server: TestServer) {
  const { store } = server.server;
  const users = await store.listUsers(null, 1000);
  return Promise.all(
    users.map(async (user) => ({
      user,
      identities: await store.listIdentities(user.id),
      sessions: await store.listLiveSessions(user.id, server.clock.now()),
    })),
  );
}
