import { TesseraError } from '../errors.ts';
import { codePointLength } from '../text.ts';

/** Longest accepted email, in code points (RFC 5321 §4.5.3.1.3 path limit). */
export const EMAIL_MAX_LENGTH = 254;

// A conservative addr-spec (RFC 5322 §3.4.1 dot-atom only; RFC 6531 letters allowed): no quoted local
// parts, no comments, no domain literals, no spaces, no markup. The local part takes RFC 5322's atext
// except the backtick; labels are letters, digits and inner hyphens; the last label holds a letter.
const ATOM = "[a-z0-9!#$%&'*+/=?^_{|}~\\-\\p{L}\\p{M}\\p{N}]+";
const LABEL = '[\\p{L}\\p{N}](?:[\\p{L}\\p{M}\\p{N}\\-]{0,61}[\\p{L}\\p{M}\\p{N}])?';
const ADDR_SPEC = new RegExp(
  `^(?<local>${ATOM}(?:\\.${ATOM})*)@(?<domain>(?:${LABEL}\\.)+(?=[^.]*\\p{L})${LABEL})$`,
  'u',
);

/**
 * Normalizes an email the one way every lookup and counter uses: Unicode NFC, trimmed, lower-case.
 * Then checks it: well-formed Unicode, at most 254 code points, a local part of at most 64, and the
 * conservative addr-spec above (no markup, quotes, spaces or control characters).
 * Throws {@link TesseraError} `invalid_email` (field `email`).
 */
export function normalizeEmail(email: unknown): string {
  const invalid = (): never => {
    throw new TesseraError('invalid_email', 'The email address is not valid.', { field: 'email' });
  };
  if (typeof email !== 'string' || !email.isWellFormed()) return invalid();
  const normalized = email.normalize('NFC').trim().toLowerCase().normalize('NFC');
  if (codePointLength(normalized) > EMAIL_MAX_LENGTH) return invalid();
  const match = ADDR_SPEC.exec(normalized);
  if (!match?.groups?.local || codePointLength(match.groups.local) > 64) return invalid();
  return normalized;
}
