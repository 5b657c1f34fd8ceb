import { createHash, randomBytes } from 'node:crypto';

/** How many recovery codes a user gets at once. */
export const RECOVERY_CODE_COUNT = 10;

// Crockford's base32: no I, L, O or U, so a code read aloud or copied by hand survives.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const CODE_BYTES = 10;
const GROUP = 4;
/** The longest text accepted as a recovery code before it is even normalized. */
const MAX_INPUT_LENGTH = 64;

/**
 * One recovery code: 80 random bits as 16 Crockford base32 characters in groups of four
 * (`7k2m-q9xd-3fht-0bcw`).
 */
function newRecoveryCode(): string {
  let bits = 0n;
  for (const byte of randomBytes(CODE_BYTES)) bits = (bits << 8n) | BigInt(byte);
  let code = '';
  for (let i = CODE_BYTES * 8 - 5; i >= 0; i -= 5) code += ALPHABET[Number((bits >> BigInt(i)) & 31n)];
  return code.match(new RegExp(`.{${GROUP}}`, 'g'))?.join('-') ?? code;
}

/**
 * The stored form of a recovery code: SHA-256 of its normalized text, base64url. A fast hash is enough
 * (unlike for passwords) because each code carries 80 random bits: even with the hashes in hand, finding
 * one code takes about 2^80 / 10 guesses, and nothing is shared between users to precompute against.
 * `null` when `code` cannot be a recovery code (not a string, too long, wrong characters).
 */
export function recoveryCodeHash(code: unknown): string | null {
  if (typeof code !== 'string' || code.length > MAX_INPUT_LENGTH) return null;
  // Crockford's decoding rules: case-insensitive, separators ignored, I and L read as 1, O as 0.
  const normalized = code.toLowerCase().replace(/[\s-]/g, '').replace(/[il]/g, '1').replace(/o/g, '0');
  if (!/^[0-9a-hjkmnp-tv-z]{16}$/.test(normalized)) return null;
  return createHash('sha256').update(normalized).digest('base64url');
}

/** A new set of {@link RECOVERY_CODE_COUNT} codes (shown to the user once) and their hashes (stored). */
export function newRecoveryCodes(): { codes: string[]; hashes: string[] } {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  return { codes, hashes: codes.map((code) => recoveryCodeHash(code) as string) };
}
