import fc from 'fast-check';

/**
 * A credential named, never spelled out: the request model holds these names and the renderer puts the
 * real value in at send time, so a shrunk counterexample prints without a secret.
 */
export type Secret =
  | 'victim-access'
  | 'victim-refresh'
  | 'victim-session-handle'
  | 'expired-access'
  | 'revoked-access'
  | 'revoked-refresh'
  | 'service-token'
  | 'password';

/** Identifiers that are not secrets but make path parameters and bodies land on real rows. */
export type Known =
  | 'victim-session-id'
  | 'victim-user-id'
  | 'victim-email'
  | 'bystander-session-id'
  | 'fresh-email';

/** A text made of plain pieces, secrets and known values, possibly garbled. */
export type Text =
  | { plain: string }
  | { secret: Secret; garble?: Garble }
  | { known: Known }
  | { parts: Text[] };

/** How a real value is spoiled: one character changed, cut short, or padded. */
export type Garble = { flip: number } | { cut: number } | { pad: string };

/** A JSON value whose strings may be {@link Text}s. */
export type JsonSpec =
  | { text: Text }
  | { value: null | boolean | number }
  | { array: JsonSpec[] }
  | { object: [string, JsonSpec][] }
  | { huge: number };

/** What the body is. */
export type BodySpec =
  | { kind: 'none' }
  | { kind: 'json'; value: JsonSpec }
  | { kind: 'form'; pairs: [string, Text][] }
  | { kind: 'raw'; bytes: number[] }
  | { kind: 'malformed-json'; text: string };

/** The request path: a real route's with random parameters, or anything else. */
export type PathSpec =
  | { route: number; params: Text[]; trailing: '' | '/' | '//' | '/..' | '?x=1' }
  | { raw: string };

/** One fuzzed request, in the terms its counterexample is printed in. */
export interface FuzzRequest {
  method: string;
  /** The request line's protocol: mostly `HTTP/1.1`. */
  version: string;
  path: PathSpec;
  headers: [string, Text][];
  body: BodySpec;
  /** `true`: the body's real length; `false`: no `Content-Length`; a number: that (lying) length. */
  contentLength: boolean | number;
  chunked: boolean;
}

/** A route as the router holds it: what the generator needs to aim at it. */
export interface RouteShape {
  method: string;
  /** `none`, `bearer` or `service`, as the route declares. */
  auth: string;
  /** The full path pattern with `:name` parameters. */
  path: string;
}

const METHODS = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
  'TRACE',
  'PROPFIND',
  'get',
  'P0ST',
];
const SECRETS: Secret[] = [
  'victim-access',
  'victim-refresh',
  'victim-session-handle',
  'expired-access',
  'revoked-access',
  'revoked-refresh',
  'service-token',
  'password',
];
const KNOWN: Known[] = [
  'victim-session-id',
  'victim-user-id',
  'victim-email',
  'bystander-session-id',
  'fresh-email',
];
const FIELDS = [
  'email',
  'password',
  'refresh_token',
  'session_token',
  'token',
  'token_type_hint',
  'grant_type',
  'scope',
  'totp',
  'code',
  'recovery_code',
  'current_password',
  'new_password',
  'name',
  'phone_number',
  'device_name',
  'subject_token',
  'subject_token_type',
  'client_id',
  'roles',
  'disabled',
  '__proto__',
  'constructor',
];
// Strings a careless server chokes on: controls, bidi overrides, lone surrogates, NUL, markup.
const NASTY = [
  '\u0000',
  '\r\n',
  '\r\nSet-Cookie: x=1',
  '\u202e',
  '\u2066',
  '\ud800',
  '\udfff',
  '\ufeff',
  '\u00ff',
  '<script>',
  '"',
  '\\',
  '%00',
  '../',
  ' ',
  '',
  'ümlaut',
  '😀',
  'refresh_token',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:ietf:params:oauth:token-type:id_token',
];

const garble: fc.Arbitrary<Garble> = fc.oneof(
  fc.record({ flip: fc.nat(200) }),
  fc.record({ cut: fc.nat(200) }),
  fc.record({ pad: fc.constantFrom('x', '.', '=', ' ', '\u0000', '.e30') }),
);

const plainText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  // Any UTF-16 code unit, lone surrogates included.
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 3, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 1, arbitrary: fc.constantFrom('tsr_', 'eyJ', 'a@example.com', 'Bearer', 'cookie', 'body') },
);

/** A text: mostly plain, sometimes a real credential (maybe garbled) or a real identifier. */
export const text: fc.Arbitrary<Text> = fc.oneof(
  { weight: 4, arbitrary: plainText.map((plain) => ({ plain })) },
  {
    weight: 3,
    arbitrary: fc
      .record({ secret: fc.constantFrom(...SECRETS), garble: fc.option(garble, { nil: undefined }) })
      .map(
        ({ secret: name, garble: g }): Text =>
          g === undefined ? { secret: name } : { secret: name, garble: g },
      ),
  },
  { weight: 1, arbitrary: fc.constantFrom(...KNOWN).map((known): Text => ({ known })) },
);

const json: fc.Arbitrary<JsonSpec> = fc.letrec<{ value: JsonSpec }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { weight: 5, arbitrary: text.map((t) => ({ text: t })) },
    {
      weight: 2,
      arbitrary: fc
        .oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.constant(1e308))
        .map((value) => ({ value })),
    },
    { weight: 1, arbitrary: fc.array(tie('value'), { maxLength: 3 }).map((array) => ({ array })) },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), plainText), tie('value')), { maxLength: 3 })
        .map((object) => ({ object })),
    },
    { weight: 1, arbitrary: fc.constantFrom(300, 9_000, 17_000).map((huge) => ({ huge })) },
  ),
})).value;

// The value a route most likely wants in a field: a body that gets past the shape checks reaches the
// engine, where a request that fails after a write would show.
const LIKELY: Readonly<Record<string, Text[]>> = {
  email: [{ known: 'victim-email' }, { known: 'fresh-email' }],
  password: [{ secret: 'password' }],
  current_password: [{ secret: 'password' }],
  new_password: [{ plain: 'another long passphrase' }, { secret: 'password' }],
  refresh_token: [{ secret: 'victim-refresh' }, { secret: 'revoked-refresh' }],
  session_token: [{ secret: 'victim-session-handle' }],
  token: [{ secret: 'victim-access' }, { secret: 'victim-refresh' }, { secret: 'expired-access' }],
  token_type_hint: [{ plain: 'access_token' }, { plain: 'refresh_token' }],
  grant_type: [{ plain: 'refresh_token' }, { plain: 'urn:ietf:params:oauth:grant-type:token-exchange' }],
  subject_token: [{ secret: 'victim-access' }],
  subject_token_type: [{ plain: 'urn:ietf:params:oauth:token-type:id_token' }],
  name: [{ plain: 'Ada' }],
  phone_number: [{ plain: '+44 20 7946 0000' }],
  device_name: [{ plain: 'laptop' }],
  totp: [{ plain: '123456' }],
  code: [{ plain: '123456' }],
};

const field: fc.Arbitrary<[string, JsonSpec]> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(...Object.keys(LIKELY)).chain((name) =>
      fc.tuple(
        fc.constant(name),
        fc.oneof(
          {
            weight: 3,
            arbitrary: fc.constantFrom(...(LIKELY[name] ?? [])).map((t): JsonSpec => ({ text: t })),
          },
          { weight: 1, arbitrary: json },
        ),
      ),
    ),
  },
  { weight: 1, arbitrary: fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), plainText), json) },
);

// The body shapes of Tessera's wire (DESIGN's HTTP contract): with likely values they get past the
// checks to the engine, where a request that fails after a write would show. Any route may get any shape.
export const SHAPES: readonly (readonly string[])[] = [
  [],
  ['email', 'password'],
  ['email', 'password', 'device_name'],
  ['email'],
  ['password'],
  ['refresh_token'],
  ['session_token'],
  ['token'],
  ['token', 'token_type_hint'],
  ['token', 'new_password'],
  ['grant_type', 'refresh_token'],
  ['grant_type', 'subject_token', 'subject_token_type'],
  ['current_password', 'new_password'],
  ['name'],
  ['name', 'phone_number'],
  ['code'],
  ['totp'],
];

const likelyValue = (name: string): fc.Arbitrary<Text> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...(LIKELY[name] ?? [{ plain: 'x' }])) },
    { weight: 1, arbitrary: text },
  );

const shapedFrom = (shapes: readonly (readonly string[])[]): fc.Arbitrary<[string, Text][]> =>
  fc
    .constantFrom(...shapes)
    .chain((shape) => fc.tuple(...shape.map((name) => fc.tuple(fc.constant(name), likelyValue(name)))));
const shaped = shapedFrom(SHAPES);

// A body is mostly an object of the fields routes read, so the fuzz reaches past the shape checks.
const fieldObject: fc.Arbitrary<JsonSpec> = fc.oneof(
  {
    weight: 4,
    arbitrary: shaped.map((pairs): JsonSpec => ({ object: pairs.map(([name, t]) => [name, { text: t }]) })),
  },
  { weight: 1, arbitrary: fc.array(field, { maxLength: 4 }).map((object): JsonSpec => ({ object })) },
);

const body: fc.Arbitrary<BodySpec> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 6, arbitrary: fieldObject.map((value) => ({ kind: 'json' as const, value })) },
  { weight: 1, arbitrary: json.map((value) => ({ kind: 'json' as const, value })) },
  { weight: 1, arbitrary: shaped.map((pairs) => ({ kind: 'form' as const, pairs })) },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), plainText), text), { maxLength: 5 })
      .map((pairs) => ({ kind: 'form' as const, pairs })),
  },
  {
    weight: 1,
    arbitrary: fc
      .array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 })
      .map((bytes) => ({ kind: 'raw' as const, bytes })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('{', '{"email":', '[1,', '{"a":1}}', 'nul', '{"a":"\\ud800"}', '\u0000', '{"a":1,"a":2}')
      .map((t) => ({ kind: 'malformed-json' as const, text: t })),
  },
);

const headerValue = (values: string[]): fc.Arbitrary<Text> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...values).map((plain) => ({ plain })) },
    { weight: 1, arbitrary: text },
  );

const secret: fc.Arbitrary<Text> = fc
  .record({ secret: fc.constantFrom(...SECRETS), garble: fc.option(garble, { nil: undefined }) })
  .map(({ secret: name, garble: g }) => (g === undefined ? { secret: name } : { secret: name, garble: g }));

const bearer: fc.Arbitrary<Text> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .tuple(fc.constantFrom('Bearer ', 'DPoP ', 'bearer ', 'Basic ', 'Bearer  ', ''), secret)
      .map(([scheme, value]) => ({ parts: [{ plain: scheme }, value] })),
  },
  { weight: 1, arbitrary: text },
);

const header: fc.Arbitrary<[string, Text]> = fc.oneof(
  { weight: 3, arbitrary: bearer.map((v) => ['Authorization', v] as [string, Text]) },
  {
    weight: 2,
    arbitrary: headerValue([
      'application/json',
      'application/json; charset=utf-8',
      'application/x-www-form-urlencoded',
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
      'APPLICATION/JSON',
    ]).map((v) => ['Content-Type', v] as [string, Text]),
  },
  {
    weight: 2,
    arbitrary: headerValue([
      'http://127.0.0.1:4000',
      'https://evil.example',
      'null',
      'http://127.0.0.1:4000/',
    ]).map((v) => ['Origin', v] as [string, Text]),
  },
  {
    weight: 2,
    arbitrary: headerValue(['cookie', 'body', 'COOKIE', 'pigeon', '']).map(
      (v) => ['Tessera-Transport', v] as [string, Text],
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(
        fc.constantFrom(
          'tessera_refresh=',
          'tessera_session=',
          'tessera_refresh=x; tessera_refresh=',
          'other=',
        ),
        text,
      )
      .map(([name, value]) => ['Cookie', { parts: [{ plain: name }, value] }] as [string, Text]),
  },
  {
    weight: 2,
    arbitrary: headerValue(['127.0.0.1', '127.0.0.1, 203.0.113.7', '::1', 'garbage', '10.0.0.1, ,', '']).map(
      (v) => ['X-Forwarded-For', v] as [string, Text],
    ),
  },
  {
    weight: 2,
    arbitrary: headerValue(['evil.example', 'localhost', '127.0.0.1:1', '', '[::1]', 'a b']).map(
      (v) => ['Host', v] as [string, Text],
    ),
  },
  {
    weight: 1,
    arbitrary: headerValue(['x', 'eyJhbGciOiJub25lIn0.e30.']).map((v) => ['DPoP', v] as [string, Text]),
  },
  {
    weight: 1,
    arbitrary: headerValue(['0', '999999999', 'abc']).map((v) => ['Last-Event-ID', v] as [string, Text]),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }), text)
      .map(([name, value]) => [name, value] as [string, Text]),
  },
);

/**
 * The generator of requests aimed at `routes` (their paths and methods) and at everything else.
 * `accepted[i]` lists the body shapes route `i` takes (see `learnShapes`): a body of one of them is
 * likelier, so requests reach the engine rather than stop at the field checks.
 */
export function fuzzRequest(
  routes: readonly RouteShape[],
  accepted: readonly (readonly (readonly string[])[])[] = [],
): fc.Arbitrary<FuzzRequest> {
  const bodyFor = (p: PathSpec): fc.Arbitrary<BodySpec> => {
    const shapes = 'route' in p ? accepted[p.route] : undefined;
    if (!shapes || shapes.length === 0) return body;
    const fitting = shapedFrom(shapes);
    return fc.oneof(
      {
        weight: 3,
        arbitrary: fitting.map(
          (pairs): BodySpec => ({ kind: 'json', value: { object: pairs.map(([n, t]) => [n, { text: t }]) } }),
        ),
      },
      { weight: 1, arbitrary: fitting.map((pairs): BodySpec => ({ kind: 'form', pairs })) },
      { weight: 3, arbitrary: body },
    );
  };
  const path: fc.Arbitrary<PathSpec> = fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .record({
          route: fc.nat(routes.length - 1),
          params: fc.array(text, { minLength: 2, maxLength: 2 }),
          trailing: fc.oneof(
            { weight: 8, arbitrary: fc.constant<''>('') },
            { weight: 1, arbitrary: fc.constantFrom<'/' | '//' | '/..' | '?x=1'>('/', '//', '/..', '?x=1') },
          ),
        })
        .map((p) => p),
    },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(
          '/',
          '*',
          '//auth/login',
          '/auth/../auth/login',
          '/auth/%2e%2e/oauth/token',
          '/AUTH/LOGIN',
          '/auth/sessions/%',
          '/auth/sessions/%ZZ',
          '/auth/sessions/%00',
          '/auth/sessions/..%2f..%2fetc',
          'http://evil.example/auth/login',
          '/.well-known/../healthz',
          '/%ff%fe',
          '/auth/login?x=%ZZ',
        )
        .map((raw) => ({ raw })),
    },
    { weight: 1, arbitrary: fc.webPath().map((raw) => ({ raw: raw.startsWith('/') ? raw : `/${raw}` })) },
  );
  return fc
    .record({
      pathAndBody: path.chain((p) => fc.tuple(fc.constant(p), bodyFor(p))),
      // Mostly the route's own method, so requests get past the 405.
      methodChoice: fc.oneof(
        { weight: 4, arbitrary: fc.constant(null) },
        { weight: 1, arbitrary: fc.constantFrom(...METHODS) },
      ),
      headers: fc.oneof(
        { weight: 1, arbitrary: fc.constant([]) },
        { weight: 3, arbitrary: fc.array(header, { maxLength: 4 }) },
      ),
      contentLength: fc.oneof(
        { weight: 8, arbitrary: fc.constant(true) },
        { weight: 1, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.nat(40_000) },
      ),
      version: fc.oneof(
        { weight: 12, arbitrary: fc.constant('HTTP/1.1') },
        { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/9.9', 'HTTP/1.1x', 'http/1.1') },
      ),
      chunked: fc.oneof(
        { weight: 5, arbitrary: fc.constant(false) },
        { weight: 1, arbitrary: fc.constant(true) },
      ),
    })
    .map(({ pathAndBody: [p, b], methodChoice, headers, ...rest }) => ({
      method: methodChoice ?? ('route' in p ? (routes[p.route]?.method ?? 'GET') : 'GET'),
      path: p,
      headers: [...headers],
      body: b,
      ...rest,
    }));
}
