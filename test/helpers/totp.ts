import { createHmac } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * The code an authenticator app shows for a base32 `secret` at `nowMs` (RFC 6238: HMAC-SHA1, 30-second
 * steps, 6 digits), written from the RFCs with node:crypto, independently of the library the server
 * uses, so the HTTP tests check that the two agree. `stepOffset` moves to an earlier or later step.
 */
export function authenticatorCode(secret: string, nowMs: number, stepOffset = 0): string {
  let bits = '';
  for (const char of secret.replace(/=+$/, '').toUpperCase()) {
    bits += BASE32.indexOf(char).toString(2).padStart(5, '0');
  }
  const key = Buffer.from((bits.match(/.{8}/g) ?? []).map((byte) => Number.parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(nowMs / 30_000) + stepOffset));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = (mac.at(-1) ?? 0) & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fff_ffff) % 1_000_000).padStart(6, '0');
}

/** A six-digit code that is not `right`. */
export function otherCode(right: string): string {
  return right === '000000' ? '111111' : '000000';
}

/** The payload of a JWT, decoded without any check (to read claims in tests). */
// biome-ignore lint/suspicious/noExplicitAny: tests read claims loosely and assert on them.
export function jwtPayload(token: string): any {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
}
