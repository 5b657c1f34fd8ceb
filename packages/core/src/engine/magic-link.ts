import { TesseraError } from '../errors.ts';
import { assertInputObject } from '../internal/input.ts';
import { announceRevoked, type EngineContext } from './context.ts';
import { deviceFingerprint } from './device-fingerprint.ts';
import { issueTokens, type TokenSet } from './issue-tokens.ts';
import { type ClientInfo, newSession, sessionClient } from './login.ts';
import {
  assertDelivering,
  assertSentToCurrentAddress,
  countRedemption,
  invalidOneTimeToken,
  presentedOneTimeToken,
  redeemOneTimeToken,
  requestTokenByEmail,
} from './one-time-tokens.ts';
import { sessionCreatedEvent, sessionRevokedEvents } from './webhook-events.ts';

/** Input of `requestMagicLink` (`POST /auth/magic-link`). */
export interface MagicLinkRequest {
  email: string;
  ip?: string | null | undefined;
}

/** Input of `signInWithMagicLink` (`POST /auth/magic-link/verify`). */
export interface MagicLinkSignIn extends ClientInfo {
  /** The token from the `magic_link.requested` event. */
  token: string;
}

/**
 * Sends a sign-in link: for an enabled account with this email and without two-factor sign-in, a
 * magic-link token (15 minutes by default; a newer one voids the older) goes out in a
 * `magic_link.requested` event. An unknown, disabled or two-factor account gets the same answer after the
 * same work (a link is a password substitute, not a second factor). Throws `invalid_email`,
 * `rate_limited`, `invalid_configuration` (no `deliver`).
 */
export async function requestMagicLink(ctx: EngineContext, input: MagicLinkRequest): Promise<void> {
  return requestTokenByEmail(ctx, 'magic_link', input, (user) => !user.disabled && user.totpSecret === null);
}

/**
 * Signs in with a magic-link token: in one write the token is spent and a session (`amr: ["email"]`,
 * the usual cap and device record) is created, with `session.created` (and `session.revoked` for
 * evicted sessions). The same write refuses, and leaves the token unspent, for a disabled account, an
 * account that turned on two-factor sign-in since, or a link sent to an address the account no longer
 * has. Throws `invalid_request` (device name), `rate_limited`, `invalid_one_time_token`,
 * `account_disabled`.
 */
export async function signInWithMagicLink(ctx: EngineContext, input: MagicLinkSignIn): Promise<TokenSet> {
  assertInputObject(input);
  assertDelivering(ctx);
  const { hash, payload: userId } = presentedOneTimeToken(input.token);
  if (userId === null) throw invalidOneTimeToken();
  const client = sessionClient(input);
  await countRedemption(ctx, input.ip);
  const fingerprint = deviceFingerprint(ctx, input);
  const nowMs = ctx.clock.now();
  // The token names its user (bound by its hash), so the session can be made before the write.
  const session = newSession(ctx, userId, client, ['email'], nowMs);
  const result = await redeemOneTimeToken(ctx, hash, 'magic_link', {
    createSession: {
      session,
      maxPerUser: ctx.maxSessionsPerUser,
      ...(fingerprint === undefined ? {} : { deviceFingerprint: fingerprint }),
    },
    emit: ({ user, previous, token, evicted, newDevice }) => {
      if (token.userId !== session.userId) throw invalidOneTimeToken();
      assertSentToCurrentAddress(token, previous);
      if (user.disabled) throw new TesseraError('account_disabled', 'This account is disabled.');
      if (user.totpSecret !== null) {
        throw invalidOneTimeToken('This account signs in with a password and a one-time code, not a link.');
      }
      return [...sessionRevokedEvents(evicted, 'evicted'), sessionCreatedEvent(session, newDevice)];
    },
  });
  ctx.onEvent({ type: 'session.created', sessionId: session.id, userId: result.user.id, atMs: nowMs });
  await announceRevoked(ctx, result.evicted, 'evicted');
  return issueTokens(ctx, result.user, session, 1);
}
