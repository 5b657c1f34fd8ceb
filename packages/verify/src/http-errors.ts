import { VerifyError } from './errors.ts';

/** An HTTP answer for a refused request, framework-free. */
export interface AuthFailure {
  status: number;
  headers: Record<string, string>;
  body: Record<string, string>;
}

const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

function quote(text: string): string {
  return `"${text.replace(/["\\]/g, '')}"`;
}

/**
 * Reads `Authorization: Bearer` (RFC 6750 §2.1): the token, `null` when there is none (or another
 * scheme), or an {@link AuthFailure} for a malformed header.
 */
export function readBearer(header: string | undefined, realm: string): string | null | AuthFailure {
  if (header === undefined) return null;
  const match = /^(\S+)(?: +(.*))?$/.exec(header.trim());
  if (match?.[1]?.toLowerCase() !== 'bearer') return null;
  const token = match[2]?.trim() ?? '';
  if (!token || !B64TOKEN.test(token) || token.length > 8192) {
    return {
      status: 400,
      headers: {
        'www-authenticate': `Bearer realm=${quote(realm)}, error="invalid_request", error_description="Malformed Authorization header"`,
      },
      body: {
        error: 'invalid_request',
        error_description: 'The Authorization header is not a valid Bearer token.',
      },
    };
  }
  return token;
}

/** The RFC 6750 §3.1 answer when no token was sent: a challenge without an error code. */
export function missingToken(realm: string): AuthFailure {
  return {
    status: 401,
    headers: { 'www-authenticate': `Bearer realm=${quote(realm)}` },
    body: { error_description: 'This route needs an access token.' },
  };
}

/** The answer for a refused token: 401 `invalid_token`, or 503 when revocations cannot be vouched for. */
export function refusal(error: unknown, realm: string): AuthFailure {
  const e =
    error instanceof VerifyError ? error : new VerifyError('invalid_token', 'The access token is invalid.');
  if (e.code === 'temporarily_unavailable') {
    return {
      status: 503,
      headers: { 'retry-after': '5' },
      body: { error: 'temporarily_unavailable', error_description: e.description },
    };
  }
  return {
    status: 401,
    headers: {
      'www-authenticate': `Bearer realm=${quote(realm)}, error="invalid_token", error_description=${quote(e.description)}`,
    },
    body: { error: 'invalid_token', error_description: e.description },
  };
}

/** Runs the whole check for a header: claims, or the failure to send. */
export async function authorize<T>(
  header: string | undefined,
  realm: string,
  verify: (token: string) => Promise<T>,
): Promise<{ claims: T } | { failure: AuthFailure }> {
  const token = readBearer(header, realm);
  if (token === null) return { failure: missingToken(realm) };
  if (typeof token !== 'string') return { failure: token };
  try {
    return { claims: await verify(token) };
  } catch (error) {
    return { failure: refusal(error, realm) };
  }
}
