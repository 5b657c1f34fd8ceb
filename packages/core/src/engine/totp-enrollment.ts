import { TesseraError } from '../errors.ts';
import type { UserRecord } from '../store/store.ts';
import { newTotpSecret, totpUri, verifyTotp } from '../totp.ts';
import type { EngineContext } from './context.ts';

/** The label authenticator apps show for the issuer: its host when it is a URL. */
function issuerLabel(issuer: string): string {
  try {
    return new URL(issuer).host || issuer;
  } catch {
    return issuer;
  }
}

/**
 * Starts two-factor enrollment: returns a new TOTP secret and its `otpauth://` URI. The secret is
 * stored only by {@link confirmTotp} once the user proves their app produces the right code.
 */
export function beginTotpEnrollment(ctx: EngineContext, user: UserRecord): { secret: string; uri: string } {
  const secret = newTotpSecret();
  return { secret, uri: totpUri(secret, issuerLabel(ctx.issuer), user.email ?? user.id) };
}

/**
 * Stores a TOTP secret (base32, as {@link beginTotpEnrollment} made it) after checking `code` against it.
 * Throws `invalid_request` (not a secret), `invalid_totp` or `not_found`.
 */
export async function confirmTotp(
  ctx: EngineContext,
  userId: string,
  secret: string,
  code: string,
): Promise<void> {
  if (typeof secret !== 'string' || !/^[A-Z2-7]{16,128}$/.test(secret)) {
    throw new TesseraError('invalid_request', 'The TOTP secret is not one this engine made.', {
      field: 'secret',
    });
  }
  if (typeof code !== 'string' || !verifyTotp(secret, code, ctx.clock.now())) {
    throw new TesseraError('invalid_totp', 'The one-time code is incorrect.', { field: 'totp' });
  }
  const updated = await ctx.store.updateUser(userId, { totpSecret: secret, updatedAtMs: ctx.clock.now() });
  if (!updated || updated === 'email_taken') throw new TesseraError('not_found', 'No such user.');
}
