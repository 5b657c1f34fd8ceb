/**
 * A revocation as the feed (`GET /auth/revocations`, `/auth/revocations/stream`) sends it: JSON,
 * times in milliseconds since the epoch. `until_ms` is when the entry stops mattering (the latest
 * expiry of any access token it can match); a verifier forgets it then.
 * - `session`: every token of session `sid`.
 * - `user`: tokens of `sub` whose `ver` is below `min_ver`, or issued before `not_before_ms`.
 * - `global`: every token issued before `not_before_ms` (emergency revoke-all).
 */
export type WireRevocation =
  | { type: 'session'; sid: string; sub: string; at_ms: number; until_ms: number }
  | { type: 'user'; sub: string; min_ver?: number; not_before_ms?: number; at_ms: number; until_ms: number }
  | { type: 'global'; not_before_ms: number; at_ms: number; until_ms: number };

/**
 * The RFC 8414 metadata field (a Tessera extension) that names the revocation snapshot URL
 * (`GET`, service token); the server-sent-events stream is that URL plus {@link REVOCATION_STREAM_SUFFIX}.
 */
export const REVOCATIONS_ENDPOINT_METADATA = 'tessera_revocations_endpoint';

/** The path appended to the revocation snapshot URL to reach its server-sent-events stream. */
export const REVOCATION_STREAM_SUFFIX = '/stream';

/**
 * The server's default interval between `heartbeat` events on the revocation stream, in
 * milliseconds; a verifier that hears nothing for several of them treats the stream as dead.
 */
export const FEED_HEARTBEAT_INTERVAL_MS = 5000;

/** Server-sent event names of the revocation stream. */
export const FEED_EVENTS: Readonly<{ revocation: 'revocation'; heartbeat: 'heartbeat'; reset: 'reset' }> =
  /* @__PURE__ */ Object.freeze({ revocation: 'revocation', heartbeat: 'heartbeat', reset: 'reset' });

/** The claims a revocation is matched against. */
export interface RevocableClaims {
  sid: string;
  sub: string;
  ver: number;
  iat: number;
}

const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isId = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= 256;

/**
 * Validates a revocation received from the feed: the right fields with the right types, or `null`
 * (a verifier skips what it cannot read rather than trusting it half).
 */
export function parseWireRevocation(value: unknown): WireRevocation | null {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Record<string, unknown>;
  if (!isTime(v.until_ms)) return null;
  const atMs = isTime(v.at_ms) ? v.at_ms : 0;
  if (v.type === 'session' && isId(v.sid)) {
    return { type: 'session', sid: v.sid, sub: isId(v.sub) ? v.sub : '', at_ms: atMs, until_ms: v.until_ms };
  }
  if (v.type === 'user' && isId(v.sub)) {
    if (v.min_ver !== undefined && !isTime(v.min_ver)) return null;
    if (v.not_before_ms !== undefined && !isTime(v.not_before_ms)) return null;
    return {
      type: 'user',
      sub: v.sub,
      ...(v.min_ver === undefined ? {} : { min_ver: v.min_ver }),
      ...(v.not_before_ms === undefined ? {} : { not_before_ms: v.not_before_ms }),
      at_ms: atMs,
      until_ms: v.until_ms,
    };
  }
  if (v.type === 'global' && isTime(v.not_before_ms)) {
    return { type: 'global', not_before_ms: v.not_before_ms, at_ms: atMs, until_ms: v.until_ms };
  }
  return null;
}
