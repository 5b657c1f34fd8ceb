import { TesseraError } from '../errors.ts';
import { assertInputObject } from '../internal/input.ts';
import { assertPasswordText, PASSWORD_MAX_LENGTH } from '../password.ts';
import { codePointLength } from '../text.ts';
import { type Authenticated, bearerRecords } from './authenticate.ts';
import { accountKey, countAttempt, type EngineContext, forgetAttempts, ipKey } from './context.ts';
import {
  currentTokenLimits,
  presentedTokenLimits,
  reissueAccessToken,
  type TimeLimits,
  type TokenSet,
} from './issue-tokens.ts';
import type { RenewClient } from './policies/session-policy.ts';
import {
  acceptSecondFactor,
  authenticationMethods,
  presentedSecondFactor,
  secondFactorRefused,
} from './second-factor.ts';

/** What a user proves again: the password, a TOTP code or a recovery code (with two-factor login on, a code is required). */
export interface ReauthenticateInput {
  password?: string | undefined;
  /** A 6-digit TOTP code. */
  totp?: string | undefined;
  /** One of the user's unused recovery codes (used up). */
  recoveryCode?: string | undefined;
}

const EXPIRED = 'The access token expired; refresh it, then authenticate again.';

function earliestExp(limits: readonly TimeLimits[]): number {
  return Math.min(...limits.map((limit) => limit.exp ?? Number.POSITIVE_INFINITY));
}

/**
 * Step-up (RFC 9470): the user proves who they are again within their session, which renews its
 * `auth_time` and `amr` (`updateSessionAuth`; `acr` follows the factors used) and returns a fresh
 * access token carrying them. Nothing else changes, under every policy: no rotation, no new refresh
 * token or session handle (the response carries none), and the new token expires no later than the
 * presented one (as for a claims change), so the client's renewal schedule stands. Without two-factor
 * login the password is required; with it, a TOTP or recovery code is (the password may come too,
 * making it `mfa`), so a stolen token plus a leaked password cannot reach the two-factor settings.
 * Attempts count against the account (and the client's IP) before any check, like a login.
 * Throws `invalid_request`, `invalid_password`, `mfa_not_enabled`, `totp_required`, `rate_limited`,
 * `invalid_credentials`, `invalid_totp`, `invalid_recovery_code`, `invalid_token`.
 */
export async function reauthenticate(
  ctx: EngineContext,
  auth: Authenticated,
  input: ReauthenticateInput,
  client: RenewClient = {},
): Promise<TokenSet> {
  const { claims, session } = bearerRecords(ctx, auth);
  assertInputObject(input);
  const { password } = input;
  if (password !== undefined) {
    assertPasswordText(password);
    if (codePointLength(password) > PASSWORD_MAX_LENGTH) {
      throw new TesseraError(
        'invalid_password',
        `The password must be at most ${PASSWORD_MAX_LENGTH} characters.`,
        {
          field: 'password',
        },
      );
    }
  }
  const factor = presentedSecondFactor(input.totp, input.recoveryCode);
  if (password === undefined && factor === null) {
    throw new TesseraError('invalid_request', 'Send the password, a TOTP code or a recovery code.');
  }
  // Read again: the `Authenticated` may be older than the user's latest two-factor change.
  const user = await ctx.store.findUserById(session.userId);
  if (!user || user.disabled) throw new TesseraError('invalid_token', 'The account is disabled.');
  if (user.totpSecret === null && factor !== null) {
    throw new TesseraError('mfa_not_enabled', 'Two-factor login is off; authenticate with the password.', {
      field: factor.kind,
    });
  }
  if (user.totpSecret !== null && factor === null) {
    throw new TesseraError('totp_required', 'This account requires a one-time code (or a recovery code).', {
      field: 'totp',
    });
  }
  const limits = [currentTokenLimits(ctx, session), presentedTokenLimits(ctx, claims)];
  if (earliestExp(limits) <= Math.floor(ctx.clock.now() / 1000))
    throw new TesseraError('invalid_token', EXPIRED);

  const key = accountKey(user.email, user.id);
  if (ctx.limits) {
    await countAttempt(ctx, ipKey('login', client.ip), ctx.limits.loginPerIp);
    await countAttempt(ctx, key, ctx.limits.loginFailuresPerAccount);
  }
  const methods: string[] = [];
  if (password !== undefined) {
    const passwordOk =
      user.passwordHash === null
        ? await ctx.hasher.verifyDummy(password)
        : await ctx.hasher.verify(user.passwordHash, password);
    if (!passwordOk) {
      throw new TesseraError('invalid_credentials', 'The password is incorrect.', { field: 'password' });
    }
    methods.push('pwd');
  }
  if (factor !== null) {
    if (!(await acceptSecondFactor(ctx, user, factor))) throw secondFactorRefused(factor);
    methods.push('otp');
  }
  if (ctx.limits) await forgetAttempts(ctx, key, ctx.limits.loginFailuresPerAccount);

  const nowMs = ctx.clock.now();
  const amr = authenticationMethods(methods);
  // `acr: null`: the session's class now follows this authentication, whatever a sign-in named before.
  const updated = await ctx.store.updateSessionAuth(session.id, { authTimeMs: nowMs, amr, acr: null });
  if (!updated) throw new TesseraError('invalid_token', 'The session of this access token has ended.');
  ctx.onEvent({ type: 'session.reauthenticated', sessionId: session.id, userId: user.id, amr, atMs: nowMs });
  const grant = await reissueAccessToken(ctx, user, updated, ...limits);
  if (!grant) throw new TesseraError('invalid_token', EXPIRED);
  return {
    tokenType: 'Bearer',
    accessToken: grant.accessToken,
    expiresIn: grant.expiresIn,
    refreshToken: null,
    sessionHandle: null,
    softExpiresIn: grant.softExpiresIn ?? null,
    refreshExpiresAt: new Date(Math.min(updated.idleExpiresAtMs, updated.absoluteExpiresAtMs)),
    sessionId: updated.id,
    userId: user.id,
  };
}
