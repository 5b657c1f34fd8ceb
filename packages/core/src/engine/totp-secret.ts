import { TesseraError } from '../errors.ts';
import { seal, unseal } from '../tokens/sealed-box.ts';
import type { EngineContext } from './context.ts';

/** Marks a secret sealed by {@link sealTotpSecret} (version 1: AES-256-GCM, user id as context). */
const SEALED = 'v1.';

/**
 * A TOTP secret as the store keeps it: encrypted under the engine's TOTP key (derived from the root
 * secret, like the signing keys' key) and bound to the user, so a copy in another user's row, or a
 * database read without `TESSERA_SECRET`, yields nothing.
 */
export function sealTotpSecret(ctx: EngineContext, userId: string, secret: string): string {
  return `${SEALED}${seal(ctx.keys.totpSecretKey, `totp:${userId}`, secret)}`;
}

/**
 * The base32 secret behind a stored value. A value without the version prefix is a secret stored in
 * the clear by an engine before secrets were sealed, read as it is (it is sealed at its next change).
 * Throws `totp_unavailable` (409) when a sealed value does not open (`TESSERA_SECRET` changed since
 * enrolment, or the value was moved or altered): the code cannot be checked, so it is neither
 * accepted nor called wrong, and the user signs in with a recovery code instead.
 */
export function openTotpSecret(ctx: EngineContext, userId: string, stored: string): string {
  if (!stored.startsWith(SEALED)) return stored;
  try {
    return unseal(ctx.keys.totpSecretKey, `totp:${userId}`, stored.slice(SEALED.length));
  } catch (cause) {
    throw new TesseraError(
      'totp_unavailable',
      'This account’s authenticator key cannot be opened by this server (the server secret changed since it was enrolled). Sign in with a recovery code, then turn two-factor login off and enrol again.',
      { cause },
    );
  }
}
