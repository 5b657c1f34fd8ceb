import { availableParallelism } from 'node:os';
import { type Algorithm, hash, verify } from '@node-rs/argon2';
import { TesseraError } from './errors.ts';
import { createGate } from './internal/gate.ts';
import { codePointLength } from './text.ts';

/** argon2id cost parameters. */
export interface Argon2Params {
  /** Memory in KiB. */
  memoryCost: number;
  /** Passes. */
  timeCost: number;
  parallelism: number;
  /** Accept parameters below OWASP's minimums (fast tests). Never in production. */
  insecureForTests?: boolean;
}

/** OWASP's argon2id recommendation: m=19456 KiB (19 MiB), t=2, p=1. */
export const OWASP_ARGON2ID: Readonly<Argon2Params> = Object.freeze({
  memoryCost: 19_456,
  timeCost: 2,
  parallelism: 1,
});

/**
 * OWASP's argon2id configurations of equal strength (memory KiB, passes; parallelism 1), from the
 * Password Storage Cheat Sheet: parameters at least one of them are acceptable.
 */
const OWASP_ARGON2ID_MINIMUMS: ReadonlyArray<readonly [memoryCost: number, timeCost: number]> = [
  [47_104, 1],
  [19_456, 2],
  [12_288, 3],
  [9_216, 4],
  [7_168, 5],
];

/** True when `params` are at least as costly as one of OWASP's argon2id minimum configurations. */
export function meetsOwaspMinimum(params: Argon2Params): boolean {
  return (
    params.parallelism >= 1 &&
    OWASP_ARGON2ID_MINIMUMS.some(([memory, time]) => params.memoryCost >= memory && params.timeCost >= time)
  );
}

/** Shortest accepted password, in Unicode code points. */
export const PASSWORD_MIN_LENGTH = 8;
/** Longest accepted password, in Unicode code points. */
export const PASSWORD_MAX_LENGTH = 1024;
export { EMAIL_MAX_LENGTH } from './internal/email.ts';

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
 * Checks that a presented password is a string of well-formed Unicode (a lone surrogate would be
 * hashed as U+FFFD, so several spellings would match); anything else in it is taken as it is.
 * Throws {@link TesseraError} `invalid_request` naming `field`.
 */
export function assertPasswordText(password: unknown, field = 'password'): asserts password is string {
  if (typeof password !== 'string' || !password.isWellFormed()) {
    throw new TesseraError('invalid_request', `The field "${field}" must be well-formed text.`, { field });
  }
}

/**
 * Checks a new password: 8 to 1,024 code points and not on the common-passwords list (the ~30,000
 * most common passwords of `@zxcvbn-ts/language-common`, compared case-insensitively).
 * Throws {@link TesseraError} `invalid_password` or `common_password` naming `field`.
 */
export async function assertAcceptablePassword(password: string, field = 'password'): Promise<void> {
  assertPasswordText(password, field);
  const length = codePointLength(password);
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
  const options = {
    algorithm: 2 as Algorithm,
    memoryCost: params.memoryCost,
    timeCost: params.timeCost,
    parallelism: params.parallelism,
  };
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
