import { isSoftExpired, readConfirmationThumbprint, TOKEN_SOFT_EXPIRED } from '@tessera/protocol';
import { type SessionEndedReason, TesseraError } from '../errors.ts';
import type { SessionRecord, UserRecord } from '../store/store.ts';
import { type AccessTokenClaims, verifyAccessTokenSignature } from '../tokens/access-token.ts';
import { type EngineContext, sessionEndReason } from './context.ts';
import { assertAccessBinding, checkDpopJkt } from './dpop.ts';
import { type Profile, type SessionInfo, toProfile, toSessionInfo } from './views.ts';

/**
 * A verified access token with the live session and user it belongs to, in their public shapes. Pass it
 * back to the engine (`changePassword`, `updateProfile`, `slide`, `updateUser({ acting })`) as it was
 * returned: the engine recognizes the objects it made.
 */
export interface Authenticated {
  /** The presented token's verified claims. */
  readonly claims: AccessTokenClaims;
  readonly user: Profile;
  readonly session: SessionInfo;
}

/** A verified token with the stored records it names. Internal: records never leave the engine. */
export interface BearerRecords {
  claims: AccessTokenClaims;
  session: SessionRecord;
  user: UserRecord;
}

/** How far {@link loadBearer} may bend its rules (for the policies' renewals only). */
export interface BearerOptions {
  /** Accept a token past its soft expiry (`soft-expiry` renewal). */
  allowSoftExpired?: boolean;
  /** Accept a token past its `exp` (`expired-token-exchange`). */
  allowExpired?: boolean;
  /** Accept a `ver` older than the user's (a renewal mints the current claims anyway). */
  allowOutdatedVersion?: boolean;
}

const ENDED = 'The session of this access token has ended.';

/**
 * Verifies an access token (signature and claims, as `@tessera/verify` does) and loads its session and
 * user: the session must exist and belong to `sub`, the user must exist and not be disabled, and `ver`
 * must not be older than the user's. A revoked session is refused; an expired one (idle, absolute,
 * maximum login age) is reported in `ended` (`null` while live), so a renewal can answer `invalid_grant`
 * with the reason.
 * Throws `invalid_token`.
 */
export async function loadBearer(
  ctx: EngineContext,
  accessToken: string,
  options: BearerOptions = {},
): Promise<BearerRecords & { ended: SessionEndedReason | null }> {
  const nowMs = ctx.clock.now();
  const claims = await verifyAccessTokenSignature(ctx.keyring, accessToken, {
    issuer: ctx.issuer,
    audience: ctx.audience,
    leewaySeconds: ctx.leewaySeconds,
    nowMs,
    ...(options.allowExpired ? { allowExpired: true } : {}),
  });
  // Past `softexp` a token only buys its renewal, whatever the policy now: as verifiers judge it.
  if (!options.allowSoftExpired && isSoftExpired(claims, nowMs)) {
    throw new TesseraError('invalid_token', TOKEN_SOFT_EXPIRED);
  }
  const session = await ctx.store.findSession(claims.sid);
  // A revoked session is refused at once (the server knows its own revocations), renewal or not.
  if (!session || session.userId !== claims.sub || session.revokedAtMs !== null) {
    throw new TesseraError('invalid_token', ENDED);
  }
  const user = await ctx.store.findUserById(claims.sub);
  if (!user || user.disabled) throw new TesseraError('invalid_token', 'The account is disabled.');
  if (claims.ver < user.tokenVersion && !options.allowOutdatedVersion) {
    throw new TesseraError('invalid_token', 'The access token is outdated; refresh it.');
  }
  return { claims, session, user, ended: sessionEndReason(ctx, session, nowMs) };
}

/** How an access token was presented (RFC 9449 §7): the thumbprint of a verified proof's key, if any. */
export interface AccessPresentation {
  /**
   * `Authorization: DPoP`: the SHA-256 JWK thumbprint `engine.verifyDpopProof` returned for the
   * request's proof (checked with this token's `ath`). Absent or `null`: presented as Bearer.
   */
  dpopJkt?: string | null | undefined;
}

/**
 * Authenticates a bearer request: {@link loadBearer}, and the session must be live now (not revoked,
 * idle- or absolutely expired, or past the maximum login age). A DPoP-bound token (its session's key,
 * or `cnf.jkt`) needs `presentation.dpopJkt` equal to it; an unbound one must come without. With
 * `'introspection'` the binding is reported, not enforced. Throws `invalid_token`, `invalid_dpop_proof`.
 */
export async function authenticate(
  ctx: EngineContext,
  accessToken: string,
  presentation: AccessPresentation | 'introspection' = {},
): Promise<Authenticated> {
  const { ended, ...records } = await loadBearer(ctx, accessToken);
  if (ended !== null) throw new TesseraError('invalid_token', ENDED);
  if (presentation !== 'introspection') {
    const bound = records.session.dpopJkt ?? readConfirmationThumbprint(records.claims);
    assertAccessBinding(bound, checkDpopJkt(presentation?.dpopJkt));
  }
  const auth: Authenticated = Object.freeze({
    claims: records.claims,
    user: toProfile(records.user, ctx.profileFields),
    session: toSessionInfo(records.session),
  });
  ctx.authenticated.set(auth, records);
  return auth;
}

/**
 * The stored records behind an {@link Authenticated} this engine returned. Throws `invalid_token` for
 * any other object, so the records an operation trusts are always ones the engine loaded itself.
 */
export function bearerRecords(ctx: EngineContext, auth: Authenticated): BearerRecords {
  const records = ctx.authenticated.get(auth);
  if (!records) {
    throw new TesseraError(
      'invalid_token',
      'This authentication was not made by this engine; authenticate first.',
    );
  }
  return records;
}
