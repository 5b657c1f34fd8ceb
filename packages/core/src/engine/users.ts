import { TesseraError } from '../errors.ts';
import { normalizeEmail } from '../internal/email.ts';
import { assertInputObject } from '../internal/input.ts';
import type { UserRecord } from '../store/store.ts';
import { randomBase64url } from '../tokens/random-id.ts';
import { checkRoles } from './account.ts';
import type { EngineContext } from './context.ts';
import { wakeOutbox } from './outbox-worker.ts';
import { validateProfilePatch } from './profile.ts';
import { type Profile, toProfile } from './views.ts';
import { emitWhenDelivering, userCreatedEvent } from './webhook-events.ts';

/** Input of `createUser`: a user without a password (the app, or an identity provider, signs them in). */
export interface CreateUserInput {
  /** Normalized as at registration; unique. Default: none (a user known by an external identity or a passkey). */
  email?: string | null | undefined;
  /** The app checked the user receives mail at `email`. Default false; needs `email`. */
  emailVerified?: boolean | undefined;
  /** Roles carried in access tokens. Default none. */
  roles?: readonly string[] | undefined;
  /** Configured profile fields (`null` or absent: unset). */
  profile?: Record<string, string | null> | undefined;
}

/** A page of users, in id order. */
export interface UserPage {
  users: Profile[];
  /** Pass as `after` for the next page; `null` on the last page. */
  next: string | null;
}

/** Options of `listUsers`. */
export interface ListUsersOptions {
  /** The `next` of the previous page; absent or `null` for the first page. */
  after?: string | null | undefined;
  /** Users per page, 1 to 200. Default 50. */
  limit?: number | undefined;
}

/** Users per page when `listUsers` is not told. */
export const DEFAULT_USER_PAGE = 50;
const MAX_USER_PAGE = 200;

/** A fresh user record at `nowMs`: a random 16-byte id, token version 1, no roles, no two-factor. */
export function newUserRecord(
  fields: Pick<UserRecord, 'email' | 'passwordHash'> &
    Partial<Pick<UserRecord, 'emailVerified' | 'roles' | 'profile'>>,
  nowMs: number,
): UserRecord {
  return {
    id: randomBase64url(16),
    email: fields.email,
    emailVerified: fields.emailVerified ?? false,
    passwordHash: fields.passwordHash,
    tokenVersion: 1,
    tokenVersionChangedAtMs: null,
    roles: fields.roles ?? [],
    profile: fields.profile ?? {},
    disabled: false,
    reauthRequired: false,
    totpSecret: null,
    totpPendingSecret: null,
    totpLastStep: null,
    createdAtMs: nowMs,
    updatedAtMs: nowMs,
  };
}

/** The user's profile without the unset (`null`) fields, as a new user stores it. */
function setFieldsOnly(profile: Record<string, string | null>): Record<string, string> {
  const set: Record<string, string> = {};
  for (const [field, value] of Object.entries(profile)) if (value !== null) set[field] = value;
  return set;
}

/**
 * Creates a user without a password, for an app that signs users in itself (then `startSession`) or
 * through an identity provider (`linkIdentity`). Throws `invalid_request` (roles, profile, a verified
 * flag without an email), `invalid_email`, `email_taken`.
 */
export async function createUser(ctx: EngineContext, input: CreateUserInput = {}): Promise<Profile> {
  assertInputObject(input);
  const email = input.email === undefined || input.email === null ? null : normalizeEmail(input.email);
  if (input.emailVerified !== undefined && typeof input.emailVerified !== 'boolean') {
    throw new TesseraError('invalid_request', 'emailVerified must be true or false.', {
      field: 'email_verified',
    });
  }
  if (input.emailVerified === true && email === null) {
    throw new TesseraError('invalid_request', 'An email can be verified only when there is one.', {
      field: 'email_verified',
    });
  }
  const roles = input.roles === undefined ? [] : checkRoles(input.roles);
  const profile = input.profile === undefined ? {} : setFieldsOnly(validateProfilePatch(ctx, input.profile));
  const nowMs = ctx.clock.now();
  const user = newUserRecord(
    { email, emailVerified: input.emailVerified === true, passwordHash: null, roles, profile },
    nowMs,
  );
  const created = await ctx.store.createUser(user, {
    emit: emitWhenDelivering(ctx, () => [userCreatedEvent(user)]),
  });
  if (created !== 'created') {
    throw new TesseraError('email_taken', 'An account with this email already exists.', { field: 'email' });
  }
  ctx.onEvent({ type: 'user.created', userId: user.id, source: 'app', atMs: nowMs });
  wakeOutbox(ctx);
  return toProfile(user, ctx.profileFields);
}

/** A user's public profile by id. Throws `not_found`. */
export async function getUser(ctx: EngineContext, userId: string): Promise<Profile> {
  const user = typeof userId === 'string' ? await ctx.store.findUserById(userId) : null;
  if (!user) throw new TesseraError('not_found', 'No such user.');
  return toProfile(user, ctx.profileFields);
}

/** Users in id order, a page at a time (for admin tools). Throws `invalid_request` for a bad cursor or limit. */
export async function listUsers(ctx: EngineContext, options: ListUsersOptions = {}): Promise<UserPage> {
  assertInputObject(options);
  const after = options.after ?? null;
  if (after !== null && (typeof after !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(after))) {
    throw new TesseraError('invalid_request', 'The cursor is not one this server gave.', { field: 'cursor' });
  }
  const limit = options.limit ?? DEFAULT_USER_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_USER_PAGE) {
    throw new TesseraError(
      'invalid_request',
      `The limit must be a whole number from 1 to ${MAX_USER_PAGE}.`,
      {
        field: 'limit',
      },
    );
  }
  // One more than asked says whether another page follows, without a count.
  const users = await ctx.store.listUsers(after, limit + 1);
  const page = users.slice(0, limit);
  return {
    users: page.map((user) => toProfile(user, ctx.profileFields)),
    next: users.length > limit ? (page.at(-1)?.id ?? null) : null,
  };
}
