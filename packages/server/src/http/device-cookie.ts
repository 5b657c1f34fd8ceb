import { randomBytes } from 'node:crypto';
import { stringifySetCookie } from 'cookie';
import type { RouteContext } from './route.ts';
import { readRefreshCookie, type Transport } from './transport.ts';
import type { HttpResponse } from './types.ts';

/** The device cookie's name: a random id the browser keeps, so a sign-in can tell a new device. */
export const DEVICE_COOKIE = 'tessera_device';
const DEVICE_ID = /^[A-Za-z0-9_-]{22,64}$/;
/** 400 days: the longest lifetime browsers keep a cookie (RFC 6265bis §5.6.1). */
const DEVICE_COOKIE_MAX_AGE_SECONDS = 400 * 86_400;

/** The device id a sign-in passes to the engine, and the `Set-Cookie` that gives a browser one. */
export interface PresentedDevice {
  id: string | null;
  setCookie: string | null;
}

/**
 * The browser's device id (cookie transport only, and only while the engine emits webhooks, since only
 * `session.created`'s `new_device` flag reads it): the `tessera_device` cookie when it holds one, else a
 * new random id (128 bits) set as an HttpOnly, SameSite=Strict cookie on the auth path for 400 days. The
 * cookie is a label, not a credential: it authenticates nothing.
 */
export function presentedDevice(ctx: RouteContext, transport: Transport): PresentedDevice {
  if (transport !== 'cookie' || !ctx.routes.engine.settings.deliversWebhooks) {
    return { id: null, setCookie: null };
  }
  const current = readRefreshCookie(ctx.request.headers, DEVICE_COOKIE);
  if (current !== undefined && DEVICE_ID.test(current)) return { id: current, setCookie: null };
  const id = randomBytes(16).toString('base64url');
  return {
    id,
    setCookie: stringifySetCookie({
      name: DEVICE_COOKIE,
      value: id,
      path: ctx.routes.cookie.path,
      httpOnly: true,
      secure: ctx.routes.cookie.secure,
      sameSite: 'strict',
      maxAge: DEVICE_COOKIE_MAX_AGE_SECONDS,
    }),
  };
}

/** Adds the device cookie (if one is to be set) to a token response. */
export function withDeviceCookie(response: HttpResponse, device: PresentedDevice): HttpResponse {
  if (device.setCookie === null) return response;
  const existing = response.headers['set-cookie'];
  const cookies = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
  response.headers['set-cookie'] = [...cookies, device.setCookie];
  return response;
}
