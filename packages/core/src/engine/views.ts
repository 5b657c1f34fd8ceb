import type { SessionRecord, UserRecord } from '../store/store.ts';

/**
 * What a user (or the app acting for them) sees of an account. Never the password hash, the TOTP
 * secret or any other stored secret.
 */
export interface Profile {
  id: string;
  /** The normalized email, or `null` for a user known only by another sign-in. */
  email: string | null;
  emailVerified: boolean;
  roles: string[];
  /** The configured profile fields, `null` where unset. */
  profile: Record<string, string | null>;
  tokenVersion: number;
  /** Two-factor login (TOTP) is on. */
  twoFactor: boolean;
  disabled: boolean;
  createdAt: Date;
}

/** A session as the app may see it (no generation, salt or key binding). */
export interface SessionInfo {
  id: string;
  userId: string;
  createdAt: Date;
  /** The last refresh or renewal. */
  lastSeenAt: Date;
  /** When the user last proved who they are in this session. */
  authTime: Date;
  /** When the session ends unless refreshed (the earlier of the idle and absolute expiry). */
  expiresAt: Date;
  /** Authentication methods used (RFC 8176). */
  amr: string[];
  acr: string | null;
  ip: string | null;
  userAgent: string | null;
  deviceName: string | null;
}

/** A session as the device list shows it. */
export interface SessionView extends SessionInfo {
  /** The session of the request that asked. */
  current: boolean;
}

/** The user's profile restricted to `profileFields` (the configured ones), `null` where unset. */
export function profileClaims(
  user: UserRecord,
  profileFields: readonly string[],
): Record<string, string | null> {
  const profile: Record<string, string | null> = {};
  for (const field of profileFields) profile[field] = user.profile[field] ?? null;
  return profile;
}

/** The public view of `user`, with only the configured `profileFields`. */
export function toProfile(user: UserRecord, profileFields: readonly string[]): Profile {
  return {
    id: user.id,
    email: user.email,
    emailVerified: user.emailVerified,
    roles: [...user.roles],
    profile: profileClaims(user, profileFields),
    tokenVersion: user.tokenVersion,
    twoFactor: user.totpSecret !== null,
    disabled: user.disabled,
    createdAt: new Date(user.createdAtMs),
  };
}

/** The public view of `session`. */
export function toSessionInfo(session: SessionRecord): SessionInfo {
  return {
    id: session.id,
    userId: session.userId,
    createdAt: new Date(session.createdAtMs),
    lastSeenAt: new Date(session.lastSeenAtMs),
    authTime: new Date(session.authTimeMs),
    expiresAt: new Date(Math.min(session.idleExpiresAtMs, session.absoluteExpiresAtMs)),
    amr: [...session.amr],
    acr: session.acr,
    ip: session.ip,
    userAgent: session.userAgent,
    deviceName: session.deviceName,
  };
}
