import { TesseraError } from '../errors.ts';
import type { SessionRecord, UserRecord } from '../store/store.ts';
import { type AccessTokenClaims, verifyAccessTokenSignature } from '../tokens/access-token.ts';
import type { EngineContext } from './context.ts';

/** A verified access token with the live session and user it belongs to. */
export interface Authenticated {
  claims: AccessTokenClaims;
  session: SessionRecord;
  user: UserRecord;
}

/**
 * Verifies an access token for this server's own bearer routes: signature and claims strictly,
 * then the session (not revoked: the server knows its own revocations at once) and the user
 * (not disabled, `ver` not older than the user's token version). Throws `invalid_token`.
 */
export async function authenticate(
  ctx: EngineContext,
  accessToken: string,
  options: { allowSoftExpired?: boolean; allowExpired?: boolean; allowOutdatedVersion?: boolean } = {},
): Promise<Authenticated> {
  const nowMs = ctx.clock.now();
  const claims = await verifyAccessTokenSignature(ctx.keyring, accessToken, {
    issuer: ctx.issuer,
    audience: ctx.audience,
    leewaySeconds: ctx.leewaySeconds,
    nowMs,
    ...(options.allowExpired ? { allowExpired: true } : {}),
  });
  // soft-expiry: past `softexp` a token only buys its renewal. The description is a stable string.
  if (
    ctx.policy === 'soft-expiry' &&
    !options.allowSoftExpired &&
    (typeof claims.softexp !== 'number' || nowMs >= claims.softexp * 1000)
  ) {
    throw new TesseraError('invalid_token', 'token_soft_expired');
  }
  const session = await ctx.store.findSession(claims.sid);
  if (!session || session.userId !== claims.sub || session.revokedAtMs !== null) {
    throw new TesseraError('invalid_token', 'The session of this access token has ended.');
  }
  const user = await ctx.store.findUserById(claims.sub);
  if (!user || user.disabled) throw new TesseraError('invalid_token', 'The account is disabled.');
  if (claims.ver < user.tokenVersion && !options.allowOutdatedVersion) {
    throw new TesseraError('invalid_token', 'The access token is outdated; refresh it.');
  }
  return { claims, session, user };
}
