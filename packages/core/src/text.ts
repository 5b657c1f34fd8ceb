import { TesseraError } from './errors.ts';

/**
 * True when `text` holds a control character: C0 (U+0000–U+001F), DEL, C1 (U+0080–U+009F), or the
 * line and paragraph separators U+2028/U+2029. None of them belongs in a name shown to people.
 */
export function hasControlCharacters(text: string): boolean {
  return /[\p{Cc}\u2028\u2029]/u.test(text);
}

/**
 * True when `text` holds a bidirectional override or isolate (U+202A–U+202E, U+2066–U+2069): they
 * make a device list or a name read differently from what it is ("Trojan Source").
 */
export function hasBidiControls(text: string): boolean {
  return /[\u202a-\u202e\u2066-\u2069]/.test(text);
}

/** Length in Unicode code points (what people count), not UTF-16 units. */
export function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) length += 1;
  return length;
}

/**
 * Checks and normalizes a name people will read (a device name, a profile field): a string of well-formed
 * Unicode, NFC-normalized and trimmed, 1 to `maxLength` code points, without control characters or
 * bidi overrides and isolates. Throws {@link TesseraError} `invalid_request` naming `field`.
 */
export function normalizeDisplayText(value: unknown, field: string, maxLength: number): string {
  const refuse = (why: string): never => {
    throw new TesseraError('invalid_request', `The field "${field}" ${why}`, { field });
  };
  if (typeof value !== 'string') return refuse('must be a string.');
  if (!value.isWellFormed()) return refuse('is not well-formed Unicode.');
  const text = value.normalize('NFC').trim();
  const length = codePointLength(text);
  if (length === 0 || length > maxLength || hasControlCharacters(text) || hasBidiControls(text)) {
    return refuse(`must be 1 to ${maxLength} printable characters.`);
  }
  return text;
}

const UNSAFE_IN_HEADER_TEXT = /[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const UNSAFE_IN_HEADER_TEXT_ALL = new RegExp(UNSAFE_IN_HEADER_TEXT.source, 'gu');

/**
 * Makes text from a request header (a user agent) safe to store and show, without refusing the request
 * for it: ill-formed Unicode, control characters and bidi controls become U+FFFD, and the text is cut
 * at `maxLength` code points. Anything but a string is `null`.
 */
export function sanitizeHeaderText(value: string | null | undefined, maxLength: number): string | null {
  if (typeof value !== 'string') return null;
  // The common case (an ordinary header) costs one scan and no allocation: it runs on every refresh.
  if (value.length <= maxLength && value.isWellFormed() && !UNSAFE_IN_HEADER_TEXT.test(value)) return value;
  const replaced = value.toWellFormed().replace(UNSAFE_IN_HEADER_TEXT_ALL, '\ufffd');
  return [...replaced].slice(0, maxLength).join('');
}
