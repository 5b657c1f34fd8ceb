// The request model of the HTTP fuzz test: what a counterexample prints (names, never secrets).

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
  | 'password'
  /** A DPoP proof (RFC 9449) for `POST /auth/refresh`, valid once (a replay after its first use). */
  | 'dpop-proof'
  /** A DPoP proof for `POST /oauth/token` whose `iat` is an hour old. */
  | 'dpop-proof-stale';

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
