import { TesseraError } from '../../errors.ts';
import { parseSessionHandle, sessionHandleMatches } from '../../tokens/refresh-token.ts';
import { loadBearer } from '../authenticate.ts';
import type { EngineContext } from '../context.ts';
import type { TokenSet } from '../issue-tokens.ts';
import { renewOnce } from '../renew-once.ts';
import { definePolicy, type RenewClient, type SessionPolicy } from './session-policy.ts';

/**
 * An expired access token plus the session handle (the session cookie) buys a new token, once. Never an
 * unexpired token; never without the handle of the token's own session. Throws `invalid_grant`.
 */
async function exchangeExpired(
  ctx: EngineContext,
  accessToken: string,
  sessionHandle: string,
  client: RenewClient,
): Promise<TokenSet> {
  const sessionId = parseSessionHandle(sessionHandle);
  if (!sessionId) throw new TesseraError('invalid_grant', 'The session cookie is invalid.');
  let bearer: Awaited<ReturnType<typeof loadBearer>>;
  try {
    bearer = await loadBearer(ctx, accessToken, { allowExpired: true, allowOutdatedVersion: true });
  } catch (error) {
    if (error instanceof TesseraError && error.code === 'invalid_token') {
      throw new TesseraError('invalid_grant', error.message);
    }
    throw error;
  }
  if (
    bearer.session.id !== sessionId ||
    !sessionHandleMatches(ctx.keys.refreshMacKey, sessionHandle, bearer.session)
  ) {
    throw new TesseraError('invalid_grant', 'The session cookie does not belong to this token.');
  }
  if (ctx.clock.now() < bearer.claims.exp * 1000) {
    throw new TesseraError('invalid_grant', 'Only an expired access token can be exchanged.');
  }
  return renewOnce(ctx, bearer, client);
}

/**
 * `expired-token-exchange`: one token (10 minutes); once expired, it buys a new one together with the
 * session handle (an HttpOnly cookie, or `session_token` in the body), once.
 */
export const expiredTokenExchange: SessionPolicy = definePolicy({
  name: 'expired-token-exchange',
  accessTtl: { defaultSeconds: 600, minSeconds: 1, maxSeconds: 86_400 },
  issuesRefreshToken: false,
  issuesSessionHandle: true,
  renewal: 'exchange',
  // `gen` makes each exchange one-shot.
  extraClaims: ({ generation }) => ({ gen: generation }),
  exchangeExpired,
});
