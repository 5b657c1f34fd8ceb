import { createHmac, type KeyObject, timingSafeEqual } from 'node:crypto';
import { randomBase64url } from './random-id.ts';

/** Prefix of every refresh token, so secret scanners can find leaked ones. */
export const REFRESH_TOKEN_PREFIX = 'tsr_';

const SESSION_ID_BYTES = 16;
const GENERATION_BYTES = 4;
const MAC_BYTES = 32;
const PAYLOAD_BYTES = SESSION_ID_BYTES + GENERATION_BYTES + MAC_BYTES;
/** Length of a refresh token: the prefix plus base64url of 52 bytes (70 characters). */
export const REFRESH_TOKEN_LENGTH: number = REFRESH_TOKEN_PREFIX.length + Math.ceil((PAYLOAD_BYTES * 4) / 3);
const MAX_GENERATION = 0xffff_ffff;

/** The parts a refresh token names: a session and a generation, plus the MAC that proves it was issued. */
export interface ParsedRefreshToken {
  sessionId: string;
  generation: number;
  mac: Buffer;
}

/** A new random session id (base64url of 16 random bytes). */
export function newSessionId(): string {
  return randomBase64url(SESSION_ID_BYTES);
}

/** A new random per-session salt (base64url of 16 random bytes). */
export function newSessionSalt(): string {
  return randomBase64url(16);
}

function computeMac(key: KeyObject, sessionIdBytes: Buffer, generation: number, salt: string): Buffer {
  const generationBytes = Buffer.alloc(GENERATION_BYTES);
  generationBytes.writeUInt32BE(generation);
  return createHmac('sha256', key)
    .update(sessionIdBytes)
    .update(generationBytes)
    .update(Buffer.from(salt, 'base64url'))
    .digest();
}

/**
 * Mints the refresh token of `generation` for a session:
 * `tsr_` + base64url(session id ‖ generation ‖ HMAC-SHA256(key, session id ‖ generation ‖ salt)).
 * Deterministic, so the successor of any generation can be derived again (grace replays).
 */
export function mintRefreshToken(
  key: KeyObject,
  sessionId: string,
  generation: number,
  salt: string,
): string {
  const sessionIdBytes = Buffer.from(sessionId, 'base64url');
  const generationBytes = Buffer.alloc(GENERATION_BYTES);
  generationBytes.writeUInt32BE(generation);
  const mac = computeMac(key, sessionIdBytes, generation, salt);
  return REFRESH_TOKEN_PREFIX + Buffer.concat([sessionIdBytes, generationBytes, mac]).toString('base64url');
}

/**
 * Splits a refresh token into its parts without trusting it. Returns `null` for anything that is
 * not exactly the canonical form (wrong prefix, length, alphabet or a non-canonical encoding).
 */
export function parseRefreshToken(token: string): ParsedRefreshToken | null {
  if (
    typeof token !== 'string' ||
    token.length !== REFRESH_TOKEN_LENGTH ||
    !token.startsWith(REFRESH_TOKEN_PREFIX)
  )
    return null;
  const encoded = token.slice(REFRESH_TOKEN_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return null;
  const bytes = Buffer.from(encoded, 'base64url');
  // One token, one spelling: reject encodings whose unused trailing bits are set.
  if (bytes.length !== PAYLOAD_BYTES || bytes.toString('base64url') !== encoded) return null;
  const generation = bytes.readUInt32BE(SESSION_ID_BYTES);
  if (generation < 1 || generation > MAX_GENERATION) return null;
  return {
    sessionId: bytes.subarray(0, SESSION_ID_BYTES).toString('base64url'),
    generation,
    mac: bytes.subarray(SESSION_ID_BYTES + GENERATION_BYTES),
  };
}

/** Constant-time check that `parsed` carries the MAC the server would have issued with `salt`. */
export function refreshTokenMacMatches(key: KeyObject, parsed: ParsedRefreshToken, salt: string): boolean {
  const expected = computeMac(key, Buffer.from(parsed.sessionId, 'base64url'), parsed.generation, salt);
  return timingSafeEqual(expected, parsed.mac);
}

/** Prefix of session handles (`expired-token-exchange` policy's session cookie). */
export const SESSION_HANDLE_PREFIX = 'tss_';

/**
 * The session handle of the `expired-token-exchange` policy: `tss_` + base64url(session id ‖
 * HMAC-SHA256(key, "handle" ‖ session id ‖ salt)). It names a session and proves the server issued it;
 * it does not rotate (the exchanged access token's generation makes each exchange one-shot).
 */
export function mintSessionHandle(key: KeyObject, session: { id: string; salt: string }): string {
  const id = Buffer.from(session.id, 'base64url');
  const mac = createHmac('sha256', key)
    .update('handle')
    .update(id)
    .update(Buffer.from(session.salt, 'base64url'))
    .digest();
  return SESSION_HANDLE_PREFIX + Buffer.concat([id, mac]).toString('base64url');
}

/** The session id a handle names, or `null` when it is not of the canonical form (not yet verified). */
export function parseSessionHandle(handle: string): string | null {
  if (typeof handle !== 'string' || !handle.startsWith(SESSION_HANDLE_PREFIX) || handle.length > 80)
    return null;
  const encoded = handle.slice(SESSION_HANDLE_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/.test(encoded)) return null;
  const bytes = Buffer.from(encoded, 'base64url');
  if (bytes.length !== SESSION_ID_BYTES + MAC_BYTES || bytes.toString('base64url') !== encoded) return null;
  return bytes.subarray(0, SESSION_ID_BYTES).toString('base64url');
}

/** Constant-time check of a session handle against the session it names. */
export function sessionHandleMatches(
  key: KeyObject,
  handle: string,
  session: { id: string; salt: string },
): boolean {
  const expected = Buffer.from(mintSessionHandle(key, session));
  const given = Buffer.from(handle);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
