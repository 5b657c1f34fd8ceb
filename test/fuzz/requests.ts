import fc from 'fast-check';
import { body, garble, SECRETS, shapedFrom, text } from './bodies.ts';
import type { BodySpec, FuzzRequest, PathSpec, RouteShape, Text } from './model.ts';

export { SHAPES } from './bodies.ts';
export type { FuzzRequest, RouteShape } from './model.ts';

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
    weight: 2,
    arbitrary: fc
      .oneof(
        headerValue(['x', 'eyJhbGciOiJub25lIn0.e30.', 'a.b.c, d.e.f', 'eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.AA']),
        secret,
      )
      .map((v) => ['DPoP', v] as [string, Text]),
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
