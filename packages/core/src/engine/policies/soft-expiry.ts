import { TesseraError } from '../../errors.ts';
import { loadBearer } from '../authenticate.ts';
import type { EngineContext } from '../context.ts';
import type { TokenSet } from '../issue-tokens.ts';
import { renewOnce } from '../renew-once.ts';
import { definePolicy, type RenewClient, type SessionPolicy } from './session-policy.ts';

/**
 * Renews a token that is past its soft expiry but not its hard `exp`, of a live session, once. A token
 * still before its soft expiry is refused (`invalid_request`), as is a hard-expired one (`invalid_token`).
 */
async function renewSoftExpired(
  ctx: EngineContext,
  accessToken: string,
  client: RenewClient,
): Promise<TokenSet> {
  // A renewal mints the user's current claims, so a token from before a version bump may renew.
  const bearer = await loadBearer(ctx, accessToken, { allowSoftExpired: true, allowOutdatedVersion: true });
  const { softexp } = bearer.claims;
  if (typeof softexp !== 'number' || ctx.clock.now() < softexp * 1000) {
    throw new TesseraError('invalid_request', 'The token is not soft-expired yet; keep using it.');
  }
  return renewOnce(ctx, bearer, client);
}

/**
 * `soft-expiry`: one token (1 hour) with a soft expiry `softexp` (a sixth of its life by default) before
 * the hard `exp`; past it bearer routes and verifiers refuse it and the client renews it, once.
 */
export const softExpiry: SessionPolicy = definePolicy({
  name: 'soft-expiry',
  // At least 2 s: the soft expiry needs a whole second before the hard one.
  accessTtl: { defaultSeconds: 3600, minSeconds: 2, maxSeconds: 86_400 },
  issuesRefreshToken: false,
  issuesSessionHandle: false,
  renewal: 'soft',
  timeClaims: ['softexp'],
  defaultSoftTtlSeconds: (accessTtlSeconds: number) => Math.max(1, Math.floor(accessTtlSeconds / 6)),
  checkOptions: ({ accessTtlSeconds, softTtlSeconds }) =>
    softTtlSeconds !== null && softTtlSeconds >= accessTtlSeconds
      ? {
          option: 'softTtlSeconds',
          message: `must be shorter than accessTtlSeconds (${accessTtlSeconds}); got ${softTtlSeconds}.`,
        }
      : null,
  // `gen` makes each renewal one-shot; `softexp` is when the token stops being accepted.
  extraClaims: ({ generation, issuedAtSeconds, softTtlSeconds }) => ({
    gen: generation,
    softexp: issuedAtSeconds + (softTtlSeconds ?? 0),
  }),
  renewSoftExpired,
});
