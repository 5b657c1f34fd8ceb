// Shared by the bring-your-own-sign-in examples: a session the app starts, answered through Express
// the way Tessera's login answers (`sessionResponse`), and the client details a session records.
import type { TokenSet } from '@tessera/core';
import { sessionResponse, type TesseraHandler } from '@tessera/server';
import type { Request as ExpressRequest, Response as ExpressResponse } from 'express';

/**
 * The request's headers as `sessionResponse` reads them (`get(name)`, `null` when absent).
 * @example
 * const response = await sessionResponse(tessera.handler, headersOf(req), () => engine.startSession(…));
 */
export function headersOf(req: ExpressRequest): { get(name: string): string | null } {
  return { get: (name) => req.get(name) ?? null };
}

/**
 * Sends a web `Response` through Express: status, headers (every `Set-Cookie` kept) and body.
 * @example
 * await sendWebResponse(res, response);
 */
export async function sendWebResponse(res: ExpressResponse, response: Response): Promise<void> {
  res.status(response.status);
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') res.setHeader(name, value);
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);
  res.send(Buffer.from(await response.arrayBuffer()));
}

/**
 * The client details a session records: the peer address, the user agent, and the `device_name` the
 * client sent, if any.
 * @example
 * engine.startSession({ userId, amr: ['pwd'], ...clientOf(req) });
 */
export function clientOf(req: ExpressRequest): {
  ip: string | null;
  userAgent: string | null;
  deviceName: string | null;
} {
  const deviceName = (req.body as { device_name?: unknown } | undefined)?.device_name;
  return {
    ip: req.socket.remoteAddress ?? null,
    userAgent: req.get('user-agent') ?? null,
    deviceName: typeof deviceName === 'string' ? deviceName : null,
  };
}

/**
 * Starts a session (`start`, usually `engine.startSession`) and answers it as Tessera's login would:
 * the transport is checked first, then the refresh token goes in the HttpOnly cookie or the body.
 * @example
 * await sendSession(req, res, tessera.handler, () => engine.startSession({ userId, amr: ['pwd'], ...clientOf(req) }));
 */
export async function sendSession(
  req: ExpressRequest,
  res: ExpressResponse,
  handler: TesseraHandler,
  start: () => Promise<TokenSet>,
  status = 200,
): Promise<void> {
  await sendWebResponse(res, await sessionResponse(handler, headersOf(req), start, status));
}
