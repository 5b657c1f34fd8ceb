import { TesseraError } from '../errors.ts';
import { normalizeDisplayText } from '../text.ts';
import type { EngineContext } from './context.ts';

/** Longest profile value, in code points. */
export const PROFILE_VALUE_MAX_LENGTH = 200;
const PHONE_NUMBER = /^\+[1-9]\d{6,14}$/;

/**
 * Checks a profile change (a user's own, or the app's): only configured fields, each `null` (to clear
 * it) or text a person will read (well-formed, NFC-normalized, trimmed, 1 to 200 characters, no control
 * characters, no bidi overrides or isolates); `phone_number` in E.164 form. Returns the normalized
 * values. Throws `invalid_request` naming the field.
 */
export function validateProfilePatch(ctx: EngineContext, patch: unknown): Record<string, string | null> {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    throw new TesseraError('invalid_request', 'The profile change must be an object of fields.');
  }
  const clean: Record<string, string | null> = {};
  for (const [field, value] of Object.entries(patch)) {
    if (!ctx.profileFields.includes(field)) {
      throw new TesseraError('invalid_request', 'This field cannot be changed.', { field });
    }
    if (value === null) {
      clean[field] = null;
      continue;
    }
    const text = normalizeDisplayText(value, field, PROFILE_VALUE_MAX_LENGTH);
    if (field === 'phone_number' && !PHONE_NUMBER.test(text)) {
      throw new TesseraError(
        'invalid_request',
        'The phone number must be in E.164 form, like +14155550123.',
        {
          field,
        },
      );
    }
    clean[field] = text;
  }
  return clean;
}
