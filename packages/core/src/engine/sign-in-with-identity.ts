import type { JWTPayload } from 'jose';
import { TesseraError } from '../errors.ts';
import { normalizeEmail } from '../internal/email.ts';
import type { IdentityKey, UserRecord } from '../store/store.ts';
import type { EngineContext } from './context.ts';
import { deviceFingerprint } from './device-fingerprint.ts';
import { issueTokens, type TokenSet } from './issue-tokens.ts';
import { newSession, openSession, type sessionClient } from './login.ts';
import { wakeOutbox } from './outbox-worker.ts';
import type { ResolvedTrustedIssuer } from './trusted-issuers.ts';
import { newUserRecord } from './users.ts';
import { emitWhenDelivering, sessionCreatedEvent, userCreatedEvent } from './webhook-events.ts';

/** What an external sign-in proves: an ID token verified by a trusted issuer. */
const AMR_EXTERNAL = ['ext'];
// Two rounds settle any race: a concurrent first sign-in of the same identity either created the user
// (found by identity next round) or holds the email (found by email next round).
const ROUNDS = 3;

/** The ID token's email when the provider says it is verified (`email_verified: true`), normalized; else `null`. */
function verifiedEmail(claims: JWTPayload): string | null {
  if (claims.email_verified !== true || typeof claims.email !== 'string') return null;
  try {
    return normalizeEmail(claims.email);
  } catch {
    return null;
  }
}

/**
 * Signs in the user an external identity maps to, creating it at the first sign-in, and starts a
 * session (`amr: ["ext"]`). The rules:
 * - an identity linked to a user signs that user in (a disabled one gets `account_disabled`);
 * - a first sign-in creates a user with the identity and its first session in one store write, taking
 *   the email only when the provider verified it; of concurrent first sign-ins of one identity exactly
 *   one creates the user (the store answers `identity_taken` to the others, which then find it);
 * - when the verified email already belongs to an account, the identity is linked to that account only
 *   if the issuer has `mergeByEmail` AND the account's email is verified too; otherwise `email_taken`
 *   (nothing changes; the user signs in to the account and the app links the identity).
 */
export async function signInWithIdentity(
  ctx: EngineContext,
  issuer: ResolvedTrustedIssuer,
  identity: IdentityKey,
  claims: JWTPayload,
  client: ReturnType<typeof sessionClient>,
): Promise<{ tokens: TokenSet; newUser: boolean }> {
  const email = verifiedEmail(claims);
  for (let round = 0; round < ROUNDS; round += 1) {
    const linked = await ctx.store.findUserByIdentity(identity);
    if (linked) return { tokens: await openExisting(ctx, linked, client), newUser: false };
    const holder = email === null ? null : await ctx.store.findUserByEmail(email);
    if (holder) {
      if (!issuer.mergeByEmail || !holder.emailVerified) {
        // The holder may be this identity's own user, made by a concurrent first sign-in since we looked.
        const created = await ctx.store.findUserByIdentity(identity);
        if (created) return { tokens: await openExisting(ctx, created, client), newUser: false };
        throw new TesseraError(
          'email_taken',
          'An account with this email exists: sign in to it first, then link this provider.',
        );
      }
      const nowMs = ctx.clock.now();
      if ((await ctx.store.linkIdentity(holder.id, identity, nowMs)) === 'taken') continue;
      ctx.onEvent({ type: 'identity.linked', userId: holder.id, issuer: identity.issuer, atMs: nowMs });
      return { tokens: await openExisting(ctx, holder, client), newUser: false };
    }
    const nowMs = ctx.clock.now();
    const user = newUserRecord({ email, emailVerified: email !== null, passwordHash: null }, nowMs);
    const session = newSession(ctx, user.id, client, [...AMR_EXTERNAL], nowMs);
    const fingerprint = deviceFingerprint(ctx, client);
    const created = await ctx.store.createUser(user, {
      identity,
      session,
      ...(fingerprint === undefined ? {} : { deviceFingerprint: fingerprint }),
      emit: emitWhenDelivering(ctx, ({ newDevice }) => [
        userCreatedEvent(user),
        sessionCreatedEvent(session, newDevice),
      ]),
    });
    if (created === 'created') {
      wakeOutbox(ctx);
      ctx.onEvent({ type: 'user.created', userId: user.id, source: 'external', atMs: nowMs });
      ctx.onEvent({ type: 'identity.linked', userId: user.id, issuer: identity.issuer, atMs: nowMs });
      ctx.onEvent({ type: 'session.created', sessionId: session.id, userId: user.id, atMs: nowMs });
      return { tokens: await issueTokens(ctx, user, session, 1), newUser: true };
    }
  }
  throw new TesseraError('service_unavailable', 'The sign-in raced another; try again.', {
    retryAfterSeconds: 1,
  });
}

async function openExisting(
  ctx: EngineContext,
  user: UserRecord,
  client: ReturnType<typeof sessionClient>,
): Promise<TokenSet> {
  if (user.disabled) throw new TesseraError('account_disabled', 'This account is disabled.');
  return openSession(ctx, user, client, [...AMR_EXTERNAL], {}, deviceFingerprint(ctx, client));
}
