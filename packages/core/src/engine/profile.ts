import { TesseraError } from '../errors.ts';
import type { UserRecord } from '../store/store.ts';
import { hasControlCharacters } from '../text.ts';
import { type Profile, toProfile, updateUser } from './account.ts';
import type { EngineContext } from './context.ts';

const MAX_PROFILE_VALUE_LENGTH = 200;
const PHONE_NUMBER = /^\+[1-9]\d{6,14}$/;

/**
 * Checks a self-service profile change: only configured fields, each a string of at most 200
 * characters without control characters (or `null` to clear); `phone_number` in E.164 form.
 * Throws `invalid_request` naming the field.
 */
export function validateProfilePatch(
  ctx: EngineContext,
  patch: Record<string, unknown>,
): Record<string, string | null> {
  const clean: Record<string, string | null> = {};
  for (const [field, value] of Object.entries(patch)) {
    if (!ctx.profileFields.includes(field)) {
      throw new TesseraError('invalid_request', `The field "${field}" cannot be changed.`, { field });
    }
    if (value === null) {
      clean[field] = null;
      continue;
    }
    if (typeof value !== 'string') {
      throw new TesseraError('invalid_request', `The field "${field}" must be a string or null.`, { field });
    }
    const trimmed = value.trim();
    if (trimmed.length === 0 || trimmed.length > MAX_PROFILE_VALUE_LENGTH || hasControlCharacters(trimmed)) {
      throw new TesseraError(
        'invalid_request',
        `The field "${field}" must be 1 to ${MAX_PROFILE_VALUE_LENGTH} printable characters.`,
        { field },
      );
    }
    if (field === 'phone_number' && !PHONE_NUMBER.test(trimmed)) {
      throw new TesseraError(
        'invalid_request',
        'The phone number must be in E.164 form, like +14155550123.',
        {
          field,
        },
      );
    }
    clean[field] = trimmed;
  }
  return clean;
}

/**
 * Updates the user's own profile claims and returns the profile with a fresh access token for the
 * acting session, so the new claims are in effect at once.
 */
export async function updateOwnProfile(
  ctx: EngineContext,
  user: UserRecord,
  sessionId: string,
  patch: Record<string, unknown>,
): Promise<{ profile: Profile; access: { accessToken: string; expiresIn: number } | null }> {
  const clean = validateProfilePatch(ctx, patch);
  const result = await updateUser(ctx, user.id, {
    profile: clean,
    bumpTokenVersion: false,
    actingSessionId: sessionId,
  });
  return { profile: toProfile(ctx, result.user), access: result.access };
}
