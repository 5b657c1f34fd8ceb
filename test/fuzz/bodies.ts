// The texts, JSON values and bodies the HTTP fuzz test sends: nasty strings, real credentials (named in
// the model, put in by the renderer), and the body shapes of Tessera's wire with likely values.
import fc from 'fast-check';
import type { BodySpec, Garble, JsonSpec, Known, Secret, Text } from './model.ts';

export const SECRETS: Secret[] = [
  'victim-access',
  'victim-refresh',
  'victim-session-handle',
  'expired-access',
  'revoked-access',
  'revoked-refresh',
  'service-token',
  'password',
  'dpop-proof',
  'dpop-proof-stale',
];
const KNOWN: Known[] = [
  'victim-session-id',
  'victim-user-id',
  'victim-email',
  'bystander-session-id',
  'fresh-email',
];
export const FIELDS = [
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

export const garble: fc.Arbitrary<Garble> = fc.oneof(
  fc.record({ flip: fc.nat(200) }),
  fc.record({ cut: fc.nat(200) }),
  fc.record({ pad: fc.constantFrom('x', '.', '=', ' ', '\u0000', '.e30') }),
);

export const plainText: fc.Arbitrary<string> = fc.oneof(
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

export const shapedFrom = (shapes: readonly (readonly string[])[]): fc.Arbitrary<[string, Text][]> =>
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

export const body: fc.Arbitrary<BodySpec> = fc.oneof(
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
