import type { AuthorizationScheme } from './authorization.ts';

/**
 * A header-safe quoted-string (RFC 9110 §5.6.4): only printable ASCII survives, `"` and `\` are
 * escaped, anything else (CR, LF, NUL, non-ASCII) becomes `?`, and the text is cut at 200 characters.
 * Whatever a client sent, the result can never break a header or make a host throw.
 */
export function quoteHeaderValue(text: string): string {
  let out = '';
  for (const char of text.slice(0, 200)) {
    const code = char.codePointAt(0) ?? 0;
    if (code === 0x22 || code === 0x5c) out += `\\${char}`;
    else if (code >= 0x20 && code <= 0x7e) out += char;
    else out += '?';
  }
  return `"${out}"`;
}

/** Parameters of a `WWW-Authenticate` challenge; `undefined` values are left out. */
export type ChallengeParams = Readonly<Record<string, string | number | undefined>>;

/**
 * A `WWW-Authenticate` challenge (RFC 9110 §11.6.1, RFC 6750 §3, RFC 9449 §7.1, RFC 9470 §3):
 * string values quoted with {@link quoteHeaderValue}, numbers bare. Parameter names must be tokens
 * chosen by the caller, never by the client.
 * @example
 * challenge('Bearer', { realm: 'api', error: 'invalid_token', error_description: 'The access token expired.' });
 * // 'Bearer realm="api", error="invalid_token", error_description="The access token expired."'
 */
export function challenge(scheme: AuthorizationScheme, params: ChallengeParams = {}): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    parts.push(`${name}=${typeof value === 'number' ? String(Math.trunc(value)) : quoteHeaderValue(value)}`);
  }
  return parts.length === 0 ? scheme : `${scheme} ${parts.join(', ')}`;
}
