// Shared by the bring-your-own-sign-in examples: Express request headers as Tessera reads them, and a
// web `Response` (what `sessionResponse` returns) written to an Express response.
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
