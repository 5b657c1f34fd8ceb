import { TesseraError } from '../errors.ts';
import type { IdentityKey } from '../store/store.ts';
import { hasControlCharacters } from '../text.ts';
import type { EngineContext } from './context.ts';
import { type Profile, toProfile } from './views.ts';

/** An external identity linked to a user, as the app sees it. */
export interface Identity {
  /** The identity provider (an OIDC `iss`, or any name the app gives its own sign-in method). */
  issuer: string;
  /** The account at that provider (an OIDC `sub`). */
  subject: string;
  linkedAt: Date;
}

/** Longest issuer accepted (characters). */
export const IDENTITY_ISSUER_MAX_LENGTH = 2048;
/** Longest subject accepted: OpenID Connect Core §2 caps `sub` at 255 ASCII characters; room for others. */
export const IDENTITY_SUBJECT_MAX_LENGTH = 255;

function checkPart(value: unknown, field: 'issuer' | 'subject', maxLength: number): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > maxLength ||
    !value.isWellFormed() ||
    hasControlCharacters(value)
  ) {
    throw new TesseraError(
      'invalid_request',
      `The identity's ${field} must be 1 to ${maxLength} characters without control characters.`,
      { field },
    );
  }
  return value;
}

/**
 * An identity key, checked: `issuer` and `subject` non-empty strings without control characters,
 * compared exactly as given (no case folding or trailing-slash trimming: OpenID Connect compares `iss`
 * and `sub` as exact strings). Throws `invalid_request` naming the part.
 */
export function checkIdentity(identity: unknown): IdentityKey {
  if (typeof identity !== 'object' || identity === null || Array.isArray(identity)) {
    throw new TesseraError('invalid_request', 'The identity must be an object { issuer, subject }.', {
      field: 'identity',
    });
  }
  const { issuer, subject } = identity as Record<string, unknown>;
  return {
    issuer: checkPart(issuer, 'issuer', IDENTITY_ISSUER_MAX_LENGTH),
    subject: checkPart(subject, 'subject', IDENTITY_SUBJECT_MAX_LENGTH),
  };
}

async function requireUser(ctx: EngineContext, userId: unknown) {
  const user = typeof userId === 'string' ? await ctx.store.findUserById(userId) : null;
  if (!user) throw new TesseraError('not_found', 'No such user.');
  return user;
}

/**
 * Links an external identity to a user (a user may have many; an identity belongs to one user).
 * Returns `linked`, or `already_linked` when the user had it. Throws `invalid_request`, `not_found`,
 * `identity_taken` (another user has it: nothing changed).
 */
export async function linkIdentity(
  ctx: EngineContext,
  userId: string,
  identity: IdentityKey,
): Promise<'linked' | 'already_linked'> {
  const key = checkIdentity(identity);
  const user = await requireUser(ctx, userId);
  const nowMs = ctx.clock.now();
  const result = await ctx.store.linkIdentity(user.id, key, nowMs);
  if (result === 'taken') {
    throw new TesseraError('identity_taken', 'This identity is linked to another account.');
  }
  if (result === 'linked') {
    ctx.onEvent({ type: 'identity.linked', userId: user.id, issuer: key.issuer, atMs: nowMs });
  }
  return result;
}

/** Removes a link; false when the user had no such identity. Throws `invalid_request`. */
export async function unlinkIdentity(
  ctx: EngineContext,
  userId: string,
  identity: IdentityKey,
): Promise<boolean> {
  const key = checkIdentity(identity);
  if (typeof userId !== 'string') return false;
  const removed = await ctx.store.unlinkIdentity(userId, key);
  if (removed) {
    ctx.onEvent({ type: 'identity.unlinked', userId, issuer: key.issuer, atMs: ctx.clock.now() });
  }
  return removed;
}

/** The user an identity is linked to, or `null`. Throws `invalid_request` for a malformed identity. */
export async function findUserByIdentity(ctx: EngineContext, identity: IdentityKey): Promise<Profile | null> {
  const user = await ctx.store.findUserByIdentity(checkIdentity(identity));
  return user ? toProfile(user, ctx.profileFields) : null;
}

/** A user's identities, oldest first. Throws `not_found`. */
export async function listIdentities(ctx: EngineContext, userId: string): Promise<Identity[]> {
  const user = await requireUser(ctx, userId);
  const records = await ctx.store.listIdentities(user.id);
  return records.map((record) => ({
    issuer: record.issuer,
    subject: record.subject,
    linkedAt: new Date(record.createdAtMs),
  }));
}
