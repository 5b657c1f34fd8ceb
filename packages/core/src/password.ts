import { availableParallelism } from 'node:os';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { TesseraError } from './errors.ts';
import { createGate } from './internal/gate.ts';

/** argon2id cost parameters. */
export interface Argon2Params {
  /** Memory in KiB. */
  memoryCost: number;
  /** Passes. */
  timeCost: number;
  parallelism: number;
}

/** OWASP's argon2id recommendation: m=19456 KiB (19 MiB), t=2, p=1. */
export const OWASP_ARGON2ID: Readonly<Argon2Params> = Object.freeze({
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
});

/** Shortest and longest accepted passwords, in Unicode code points. */
export const PASSWORD_MIN_LENGTH = 8;
export const PASSWORD_MAX_LENGTH = 1024;
/** Longest accepted email (RFC 5321 path limit). */
export const EMAIL_MAX_LENGTH = 254;

let commonPasswords: Set<string> | undefined;

async function loadCommonPasswords(): Promise<Set<string>> {
  if (!commonPasswords) {
    const { dictionary } = await import('@zxcvbn-ts/language-common');
    commonPasswords = new Set(dictionary['passwords-common'].map((p) => p.toLowerCase()));
  }
  return commonPasswords;
}

/** Normalizes a password (Unicode NFKC, as NIST SP 800-63B §5.1.1.2 suggests) before hashing. */
export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

/**
 * Checks a new password: 8 to 1,024 code points and not on the common-passwords list (the ~30,000
 * most common passwords of `@zxcvbn-ts/language-common`, compared case-insensitively).
 * Throws {@link TesseraError} `invalid_password` or `common_password` naming `field`.
 */
export async function assertAcceptablePassword(password: string, field = 'password'): Promise<void> {
  const length = [...password].length;
  if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
    throw new TesseraError(
      'invalid_password',
      `The password must be ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters long.`,
      { field },
    );
  }
  if ((await loadCommonPasswords()).has(normalizePassword(password).toLowerCase())) {
    throw new TesseraError('common_password', 'This password is too common; choose another.', { field });
  }
}

/**
 * Normalizes an email (trim, lower-case) and checks its shape and length (at most 254 characters).
 * Throws {@link TesseraError} `invalid_email`.
 */
export function normalizeEmail(email: string): string {
  const normalized = email.trim().toLowerCase();
  if (normalized.length > EMAIL_MAX_LENGTH || !/^[^\s@]{1,64}@[^\s@.]+(\.[^\s@.]+)+$/.test(normalized)) {
    throw new TesseraError('invalid_email', 'The email address is not valid.', { field: 'email' });
  }
  return normalized;
}

/** Password hashing off the event loop (argon2id on libuv's thread pool). */
export interface PasswordHasher {
  /** Hashes a password into an argon2id PHC string. */
  hash(password: string): Promise<string>;
  /** True when `password` matches `phc`; false for a mismatch or an unparsable hash. */
  verify(phc: string, password: string): Promise<boolean>;
  /**
   * Spends the same time as a real verification, for unknown accounts, so response timing does
   * not reveal which emails exist. Always false.
   */
  verifyDummy(password: string): Promise<false>;
}

/** How many argon2id computations may run at once by default: all cores but one (at least one). */
export function defaultHashConcurrency(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * Creates a {@link PasswordHasher} with the given argon2id parameters (default OWASP) running at most
 * `concurrency` hashes at once (default: all cores but one), so logins never starve refreshes of CPU.
 */
export function createPasswordHasher(
  params: Argon2Params = OWASP_ARGON2ID,
  concurrency: number = defaultHashConcurrency(),
): PasswordHasher {
  // `Algorithm` is an ambient const enum: 2 is Argon2id.
  const options = { algorithm: 2 as Algorithm, ...params };
  const gate = createGate(concurrency);
  let dummyHash: Promise<string> | undefined;
  const hasher: PasswordHasher = {
    hash: (password) => gate(() => hash(normalizePassword(password), options)),
    async verify(phc, password) {
      try {
        return await gate(() => verify(phc, normalizePassword(password)));
      } catch {
        return false;
      }
    },
    async verifyDummy(password) {
      dummyHash ??= gate(() => hash('tessera-dummy-password-for-timing', options));
      await hasher.verify(await dummyHash, password);
      return false;
    },
  };
  return hasher;
}
