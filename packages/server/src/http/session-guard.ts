import type { Authenticated, Engine } from '@tessera/core';
import { RENEWED_TOKEN_EXPIRES_HEADER, RENEWED_TOKEN_HEADER } from '../routes/policy-routes.ts';
import { readBearerToken } from './bearer.ts';
import { errorResponse, missingTokenResponse } from './error-response.ts';
import type { HttpResponse } from './types.ts';

/** The outcome of guarding one app request: the session, or the response to send instead. */
export type GuardResult =
  | { auth: Authenticated; renewedHeaders: () => Promise<Record<string, string>> }
  | { refusal: HttpResponse };

/**
 * Authenticates an app's own request with the engine (RFC 6750 answers on failure) and, under the
 * `sliding-single-token` policy, offers the headers that carry a renewed token once the presented one is
 * past half its life. Framework adapters call this and only translate.
 */
export async function guardSession(
  engine: Engine,
  request: { authorization: string | undefined; ip: string; userAgent: string | undefined },
): Promise<GuardResult> {
  let token: string | null;
  try {
    token = readBearerToken({ headers: { authorization: request.authorization } });
  } catch (error) {
    return { refusal: errorResponse(error, { bearer: true }) };
  }
  if (token === null) return { refusal: missingTokenResponse() };
  let auth: Authenticated;
  try {
    auth = await engine.authenticate(token);
  } catch (error) {
    return { refusal: errorResponse(error, { bearer: true }) };
  }
  return {
    auth,
    async renewedHeaders() {
      const renewed = await engine.slide(auth, { ip: request.ip, userAgent: request.userAgent ?? null });
      return renewed
        ? {
            [RENEWED_TOKEN_HEADER]: renewed.accessToken,
            [RENEWED_TOKEN_EXPIRES_HEADER]: String(renewed.expiresIn),
            'cache-control': 'no-store',
          }
        : {};
    },
  };
}
