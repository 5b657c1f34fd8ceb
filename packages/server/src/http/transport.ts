import { TesseraError } from '@tessera/core';
import { TRANSPORT_HEADER } from '@tessera/protocol';
import { parseCookie, stringifySetCookie } from 'cookie';
import type { HeaderReader } from './types.ts';

/** How the refresh token travels: an HttpOnly cookie (browsers) or the JSON body (native apps, CLIs). */
export type Transport = 'cookie' | 'body';

/** The refresh cookie's name. */
export const REFRESH_COOKIE = 'tessera_refresh';
/** The session cookie's name (`expired-token-exchange` policy). */
export const SESSION_COOKIE = 'tessera_session';
/** The access-token cookie's name (server-rendered pages; asked for with `Tessera-Access-Cookie: 1`). */
export const ACCESS_COOKIE = 'tessera_access';
/**
 * `1` asks a cookie-transport token route to set the access token as the `tessera_access` cookie and
 * leave it out of the JSON body. (Only browsers on server-rendered pages send it; the client never does.)
 */
export const ACCESS_COOKIE_HEADER = 'tessera-access-cookie';

/** Cookie settings shared by every route of one mount. */
export interface CookieSettings {
  /** The cookie path: the auth routes' base path (e.g. `/auth`). */
  path: string;
  secure: boolean;
  allowedOrigins: readonly string[];
}

/**
 * Picks the transport: the `Tessera-Transport` header when present, else cookie for requests that
 * carry an `Origin` (browsers) and body for the rest. Throws `invalid_request` for an unknown value.
 */
export function chooseTransport(headers: HeaderReader): Transport {
  const header = headers.get(TRANSPORT_HEADER);
  if (header === null) return headers.get('origin') ? 'cookie' : 'body';
  const value = header.trim().toLowerCase();
  if (value === 'cookie' || value === 'body') return value;
  throw new TesseraError('invalid_request', 'Tessera-Transport must be "cookie" or "body".');
}

/**
 * Whether a token request asks for the access-token cookie (`Tessera-Access-Cookie: 1`). Throws
 * `invalid_request` for another value, or for body transport (the cookie is a browser's).
 */
export function wantsAccessCookie(headers: HeaderReader): boolean {
  const header = headers.get(ACCESS_COOKIE_HEADER);
  if (header === null) return false;
  if (header.trim() !== '1') {
    throw new TesseraError('invalid_request', 'Tessera-Access-Cookie must be 1 (or left out).');
  }
  if (chooseTransport(headers) !== 'cookie') {
    throw new TesseraError('invalid_request', 'Tessera-Access-Cookie needs cookie transport.');
  }
  return true;
}

/**
 * Refuses a request whose `Origin` is present and not allowed: a browser on another site must not
 * receive or use the refresh cookie. Requests without `Origin` (native apps) pass.
 */
export function assertOriginAllowed(headers: HeaderReader, settings: CookieSettings): void {
  const origin = headers.get('origin');
  if (origin !== null && !settings.allowedOrigins.includes(origin)) {
    throw new TesseraError('forbidden_origin', 'Requests from this origin are not allowed.');
  }
}

/**
 * CSRF checks for a request that authenticates with the refresh cookie: it must carry
 * `Tessera-Transport: cookie` (a cross-site form cannot send it, a cross-origin script cannot without
 * passing CORS) and an `Origin` on the allowed list.
 */
export function assertCookieRequestAllowed(headers: HeaderReader, settings: CookieSettings): void {
  if (headers.get(TRANSPORT_HEADER)?.trim().toLowerCase() !== 'cookie') {
    throw new TesseraError(
      'csrf_header_required',
      'A request that uses the refresh cookie must send the header Tessera-Transport: cookie.',
    );
  }
  const origin = headers.get('origin');
  if (origin === null || !settings.allowedOrigins.includes(origin)) {
    throw new TesseraError(
      'forbidden_origin',
      'A request that uses the refresh cookie must come from an allowed origin.',
    );
  }
}

/** The refresh cookie's value (or another Tessera cookie's), if the request carries one. */
export function readRefreshCookie(headers: HeaderReader, name: string = REFRESH_COOKIE): string | undefined {
  const header = headers.get('cookie');
  if (!header) return undefined;
  try {
    return parseCookie(header)[name];
  } catch {
    return undefined;
  }
}

/** `Set-Cookie` for a refresh token: HttpOnly, SameSite=Strict, scoped to the auth path, expiring with it. */
export function refreshCookie(
  settings: CookieSettings,
  token: string,
  expiresAt: Date,
  nowMs: number,
  name: string = REFRESH_COOKIE,
): string {
  return stringifySetCookie({
    name,
    value: token,
    path: settings.path,
    httpOnly: true,
    secure: settings.secure,
    sameSite: 'strict',
    maxAge: Math.max(0, Math.floor((expiresAt.getTime() - nowMs) / 1000)),
  });
}

/** `Set-Cookie` for the session handle of `expired-token-exchange`: the same attributes as the refresh cookie. */
export function sessionCookie(
  settings: CookieSettings,
  handle: string,
  expiresAt: Date,
  nowMs: number,
): string {
  return refreshCookie(settings, handle, expiresAt, nowMs, SESSION_COOKIE);
}

/** `Set-Cookie` that deletes the refresh cookie (or another Tessera cookie). */
export function clearedRefreshCookie(settings: CookieSettings, name: string = REFRESH_COOKIE): string {
  return stringifySetCookie({
    name,
    value: '',
    path: settings.path,
    httpOnly: true,
    secure: settings.secure,
    sameSite: 'strict',
    maxAge: 0,
    expires: new Date(0),
  });
}

/**
 * `Set-Cookie` for the access token of a server-rendered app: HttpOnly, `Path=/` (the app's pages
 * receive it), `SameSite=Lax` (a link from another site still opens a signed-in page; a cross-site
 * POST never carries it), `Secure` when `secure`, expiring with the token (`maxAgeSeconds`).
 */
export function accessCookie(secure: boolean, token: string, maxAgeSeconds: number): string {
  return stringifySetCookie({
    name: ACCESS_COOKIE,
    value: token,
    path: '/',
    httpOnly: true,
    secure,
    sameSite: 'lax',
    maxAge: Math.max(0, Math.floor(maxAgeSeconds)),
  });
}

/** `Set-Cookie` that deletes the access-token cookie. */
export function clearedAccessCookie(secure: boolean): string {
  return stringifySetCookie({
    name: ACCESS_COOKIE,
    value: '',
    path: '/',
    httpOnly: true,
    secure,
    sameSite: 'lax',
    maxAge: 0,
    expires: new Date(0),
  });
}
