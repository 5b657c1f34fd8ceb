import type { TokenSet } from '@tessera/core';
import type { TesseraHandler } from '../handler.ts';
import { errorResponse } from './error-response.ts';
import { tokenResponse } from './route.ts';
import { decorate } from './security-headers.ts';
import { assertOriginAllowed, chooseTransport } from './transport.ts';
import type { HeaderReader } from './types.ts';
import { toResponse } from './web-io.ts';

/**
 * Answers a sign-in the app made itself (its own passwords, a passkey, an identity provider) the way
 * Tessera's login answers: the transport is chosen from the request's headers first (a cookie-transport
 * request must come from an allowed `Origin`, so a foreign site cannot plant a session), then `start`
 * runs (usually `engine.startSession(…)`) and its token set is rendered with the refresh token in the
 * HttpOnly cookie or in the body, `Cache-Control: no-store` and the security and CORS headers. A
 * refused transport or a failure of `start` becomes Tessera's error response; no session is started
 * for a request the transport checks refuse.
 * @example
 * app.post('/passkeys/verify', async (req, res) => {
 *   const userId = await verifyPasskey(req.body); // the app's own check
 *   const response = await sessionResponse(tessera.handler, new Headers(req.headers as Record<string, string>), () =>
 *     engine.startSession({ userId, amr: ['hwk', 'user'], ip: req.ip, userAgent: req.get('user-agent') }),
 *   );
 *   res.status(response.status).set(Object.fromEntries(response.headers)).send(await response.text());
 * });
 */
export async function sessionResponse(
  handler: TesseraHandler,
  headers: HeaderReader,
  start: () => Promise<TokenSet>,
  status = 200,
): Promise<Response> {
  const settings = handler.settings;
  let response: ReturnType<typeof tokenResponse>;
  try {
    const transport = chooseTransport(headers);
    if (transport === 'cookie') assertOriginAllowed(headers, settings.cookie);
    response = tokenResponse({ routes: settings, request: { headers } }, await start(), transport, status);
  } catch (error) {
    response = errorResponse(error);
  }
  return toResponse(decorate(response, headers, settings.cookie.allowedOrigins), false);
}
