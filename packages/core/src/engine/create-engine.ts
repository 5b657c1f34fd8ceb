import { systemClock } from '../clock.ts';
import { TesseraError } from '../errors.ts';
import type { Revocation } from '../revocation-bus.ts';
import { verifyAccessTokenSignature } from '../tokens/access-token.ts';
import { createJwsSigner } from '../tokens/jws-signer.ts';
import { createKeyring, type Jwks, type SigningAlg } from '../tokens/keyring.ts';
import { parseSessionHandle, REFRESH_TOKEN_PREFIX, sessionHandleMatches } from '../tokens/refresh-token.ts';
import { deriveKeys } from '../tokens/secret.ts';
import {
  beginTotpEnrollment,
  changePassword,
  confirmTotp,
  type Profile,
  toProfile,
  type UserUpdate,
  type UserUpdateResult,
  updateUser,
} from './account.ts';
import { type Authenticated, authenticate } from './authenticate.ts';
import { type EngineContext, resolveEngineContext, type TokenSet } from './context.ts';
import { type IntrospectionResult, introspect } from './introspect.ts';
import { type LoginInput, login, type RegisterInput, register } from './login.ts';
import type { EngineOptions } from './options.ts';
import type { PolicyName } from './policy.ts';
import { updateOwnProfile } from './profile.ts';
import { exchangeExpiredToken, type RenewClient, renewSoftExpired, slideAccessToken } from './renew.ts';
import { listRevocationsSince } from './revocations.ts';
import {
  emergencyRevokeAll,
  logoutWithRefreshToken,
  revokeOwnSession,
  revokeSession,
  revokeUserSessions,
} from './revoke.ts';
import { type RefreshInput, refreshSession } from './rotate-refresh-token.ts';

/** A session as the device list shows it. */
export interface SessionView {
  id: string;
  createdAt: Date;
  lastSeenAt: Date;
  ip: string | null;
  userAgent: string | null;
  deviceName: string | null;
  current: boolean;
}

/** The session engine: every operation on users, sessions and tokens. Framework-free. */
export interface Engine {
  /** Resolved settings other layers need. */
  readonly settings: EngineSettings;
  /** Creates a user and a first session. Throws `invalid_email`, `invalid_password`, `common_password`, `email_taken`. */
  register(input: RegisterInput): Promise<TokenSet>;
  /** Starts a session from an email and password. Throws `invalid_credentials`, `totp_required`, `rate_limited`, … */
  login(input: LoginInput): Promise<TokenSet>;
  /** Rotates a refresh token (see {@link refreshSession}). Throws `invalid_grant`. */
  refresh(input: RefreshInput): Promise<TokenSet>;
  /** Verifies an access token and loads its live session and user. Throws `invalid_token`. */
  authenticate(accessToken: string): Promise<Authenticated>;
  /** `soft-expiry`: renews a soft-expired token once (see `renewSoftExpired`). */
  renew(accessToken: string, client?: RenewClient): Promise<TokenSet>;
  /** `expired-token-exchange`: an expired token plus the session handle buys a new one, once. */
  exchangeExpired(accessToken: string, sessionHandle: string, client?: RenewClient): Promise<TokenSet>;
  /** `sliding-single-token`: a new access token once the presented one is past half its life, else null. */
  slide(
    auth: Authenticated,
    client?: RenewClient,
  ): Promise<{ accessToken: string; expiresIn: number } | null>;
  /** Ends the session a session handle names (`expired-token-exchange` logout). Throws `invalid_grant`. */
  logoutWithSessionHandle(sessionHandle: string): Promise<string>;
  /** Ends the session a refresh token names; returns its id. Throws `invalid_grant`. */
  logoutWithRefreshToken(refreshToken: string): Promise<string>;
  /** Ends one session (idempotent). */
  logoutSession(sessionId: string): Promise<boolean>;
  /** Ends every session of a user; returns how many ended. */
  logoutAll(userId: string): Promise<number>;
  /** The user's live sessions, oldest first, `currentSessionId` marked. */
  listSessions(userId: string, currentSessionId: string | null): Promise<SessionView[]>;
  /** Ends one of the user's own sessions; false if the user has no such live session. */
  revokeOwnSession(userId: string, sessionId: string): Promise<boolean>;
  /** Admin: ends one session, whoever owns it. */
  adminRevokeSession(sessionId: string): Promise<boolean>;
  /** Admin: ends every session of a user. */
  adminRevokeUser(userId: string): Promise<number>;
  /** Changes the password (see `changePassword`); fresh tokens for the current session. */
  changePassword(auth: Authenticated, currentPassword: string, newPassword: string): Promise<TokenSet>;
  /** The user's own account. */
  getProfile(userId: string): Promise<Profile>;
  /** Self-service profile change; returns a fresh access token with the new claims. */
  updateProfile(
    auth: Authenticated,
    patch: Record<string, unknown>,
  ): Promise<{ profile: Profile; access: { accessToken: string; expiresIn: number } | null }>;
  /** App-side change to a user (roles, profile, disabled, re-auth), optionally bumping the token version. */
  updateUser(userId: string, update: UserUpdate): Promise<UserUpdateResult>;
  /** Looks a user up by email (for admin tools); null if none. */
  findUserByEmail(email: string): Promise<Profile | null>;
  /** Starts TOTP enrollment for a user. */
  beginTotpEnrollment(userId: string): Promise<{ secret: string; uri: string }>;
  /** Confirms TOTP enrollment with a code from the user's app. */
  confirmTotp(userId: string, secret: string, code: string): Promise<void>;
  /** Emergency revoke-all: every session and token issued before now. */
  emergencyRevokeAll(): Promise<{ notBefore: Date; sessions: number }>;
  /** RFC 7662 introspection of an access or refresh token. */
  introspect(token: string): Promise<IntrospectionResult>;
  /** RFC 7009 revocation: ends the session the token belongs to; unknown tokens are ignored. */
  revokeToken(token: string): Promise<void>;
  /** The public JWKS. */
  jwks(): Promise<Jwks>;
  /** Rotates the signing key; the old one stays published until its tokens expired. Returns the new kid. */
  rotateSigningKey(alg?: SigningAlg): Promise<string>;
  /** Deletes sessions ended more than `retentionSeconds` ago, in bounded batches. Returns how many. */
  sweep(retentionSeconds?: number): Promise<number>;
  /** Starts sweeping every `intervalSeconds` in the background; returns a stop function. */
  startSweeper(intervalSeconds?: number): () => void;
  /**
   * Live revocations recorded since `sinceMs` (default: one access-token lifetime ago, i.e. all that
   * can still matter), from the store. See `listRevocationsSince`.
   */
  listRevocations(sinceMs?: number): Promise<Revocation[]>;
  /** Calls `listener` for every revocation published on the bus (this and, when shared, other instances). */
  onRevocation(listener: (revocation: Revocation) => void): () => void;
  /** Resolves when the store answers; throws `service_unavailable` otherwise. */
  ping(): Promise<void>;
  /** Stops background work (not the store: its owner closes it). */
  close(): Promise<void>;
}

/** Settings of an engine other layers read. Durations in seconds. */
export interface EngineSettings {
  policy: PolicyName;
  issuer: string;
  audience: string;
  clientId: string;
  accessTtlSeconds: number;
  refreshIdleTtlSeconds: number;
  refreshAbsoluteTtlSeconds: number;
  reuseGraceSeconds: number;
  clockLeewaySeconds: number;
  profileFields: readonly string[];
}

const SWEEP_BATCH = 500;
const SWEEP_MAX_BATCHES = 20;

/**
 * Creates the session engine over a store. Loads (or generates) signing keys; fails fast when the
 * secret is too short or cannot decrypt the stored keys.
 * @example
 * const engine = await createEngine({ store: createMemoryStore(), secret, issuer: 'http://127.0.0.1:4000' });
 * const tokens = await engine.register({ email: 'ada@example.com', password: 'correct horse battery' });
 */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  if (options.secret.byteLength < 32) throw new Error('The Tessera secret must be at least 32 bytes.');
  const keys = deriveKeys(options.secret);
  const accessTtlSeconds = options.accessTtlSeconds ?? 600;
  const leewaySeconds = options.clockLeewaySeconds ?? 2;
  const reloadIntervalMs = 30_000;
  const keyring = await createKeyring({
    store: options.store,
    keyEncryptionKey: keys.keyEncryptionKey,
    alg: options.signingAlg ?? 'EdDSA',
    clock: options.clock ?? systemClock,
    // Another instance may sign with a key for up to one reload interval after it was retired.
    retiredKeyRetentionMs: (accessTtlSeconds + leewaySeconds) * 1000 + reloadIntervalMs,
    reloadIntervalMs,
  });
  const signer = createJwsSigner({ thread: options.signOffThread });
  const ctx: EngineContext = resolveEngineContext(options, keys, keyring, signer);
  const sweepers = new Set<NodeJS.Timeout>();

  const sweep = async (retentionSeconds = 86_400): Promise<number> => {
    const beforeMs = ctx.clock.now() - retentionSeconds * 1000;
    let total = 0;
    for (let batch = 0; batch < SWEEP_MAX_BATCHES; batch += 1) {
      const deleted = await ctx.store.sweepSessions(beforeMs, SWEEP_BATCH);
      total += deleted;
      if (deleted < SWEEP_BATCH) break;
    }
    await keyring.reload();
    return total;
  };

  return {
    settings: Object.freeze({
      policy: ctx.policy,
      issuer: ctx.issuer,
      audience: ctx.audience,
      clientId: ctx.clientId,
      accessTtlSeconds: ctx.accessTtlSeconds,
      refreshIdleTtlSeconds: ctx.idleTtlMs / 1000,
      refreshAbsoluteTtlSeconds: ctx.absoluteTtlMs / 1000,
      reuseGraceSeconds: ctx.graceMs / 1000,
      clockLeewaySeconds: ctx.leewaySeconds,
      profileFields: ctx.profileFields,
    }),
    register: (input) => register(ctx, input),
    login: (input) => login(ctx, input),
    refresh: (input) => refreshSession(ctx, input),
    authenticate: (token) => authenticate(ctx, token),
    logoutWithRefreshToken: (token) => logoutWithRefreshToken(ctx, token),
    renew: (token, client = {}) => renewSoftExpired(ctx, token, client),
    exchangeExpired: (token, handle, client = {}) => exchangeExpiredToken(ctx, token, handle, client),
    slide: (auth, client = {}) => slideAccessToken(ctx, auth, client),
    async logoutWithSessionHandle(handle) {
      const sessionId = parseSessionHandle(handle);
      const session = sessionId ? await ctx.store.findSession(sessionId) : null;
      if (!session || !sessionHandleMatches(ctx.keys.refreshMacKey, handle, session)) {
        throw new TesseraError('invalid_grant', 'The session cookie is invalid.');
      }
      await revokeSession(ctx, session.id, 'logout');
      return session.id;
    },
    logoutSession: (sessionId) => revokeSession(ctx, sessionId, 'logout'),
    logoutAll: (userId) => revokeUserSessions(ctx, userId, 'logout_all'),
    async listSessions(userId, currentSessionId) {
      const sessions = await ctx.store.listLiveSessions(userId, ctx.clock.now());
      return sessions.map((s) => ({
        id: s.id,
        createdAt: new Date(s.createdAtMs),
        lastSeenAt: new Date(s.lastSeenAtMs),
        ip: s.ip,
        userAgent: s.userAgent,
        deviceName: s.deviceName,
        current: s.id === currentSessionId,
      }));
    },
    revokeOwnSession: (userId, sessionId) => revokeOwnSession(ctx, userId, sessionId),
    adminRevokeSession: (sessionId) => revokeSession(ctx, sessionId, 'admin'),
    adminRevokeUser: (userId) => revokeUserSessions(ctx, userId, 'admin'),
    changePassword: (auth, current, next) => changePassword(ctx, auth.user, auth.session, current, next),
    async getProfile(userId) {
      const user = await ctx.store.findUserById(userId);
      if (!user) throw new TesseraError('not_found', 'No such user.');
      return toProfile(ctx, user);
    },
    updateProfile: (auth, patch) => updateOwnProfile(ctx, auth.user, auth.session.id, patch),
    updateUser: (userId, update) => updateUser(ctx, userId, update),
    async findUserByEmail(email) {
      const user = await ctx.store.findUserByEmail(email.trim().toLowerCase());
      return user ? toProfile(ctx, user) : null;
    },
    async beginTotpEnrollment(userId) {
      const user = await ctx.store.findUserById(userId);
      if (!user) throw new TesseraError('not_found', 'No such user.');
      return beginTotpEnrollment(ctx, user);
    },
    confirmTotp: (userId, secret, code) => confirmTotp(ctx, userId, secret, code),
    emergencyRevokeAll: () => emergencyRevokeAll(ctx),
    introspect: (token) => introspect(ctx, token),
    async revokeToken(token) {
      try {
        if (token.startsWith(REFRESH_TOKEN_PREFIX)) {
          await logoutWithRefreshToken(ctx, token);
          return;
        }
        // RFC 7009 §2: holding a valid access token is enough to end its session.
        const claims = await verifyAccessTokenSignature(keyring, token, {
          issuer: ctx.issuer,
          audience: ctx.audience,
          leewaySeconds: ctx.leewaySeconds,
          nowMs: ctx.clock.now(),
        });
        await revokeSession(ctx, claims.sid, 'logout');
      } catch (error) {
        // RFC 7009 §2.2: an invalid token is not an error for the caller.
        if (error instanceof TesseraError && error.code !== 'service_unavailable') return;
        throw error;
      }
    },
    jwks: () => keyring.jwks(),
    rotateSigningKey: (alg) => keyring.rotate(alg),
    sweep,
    startSweeper(intervalSeconds = 300) {
      const timer = setInterval(() => {
        sweep().catch(() => {
          // A failed sweep is retried at the next tick; no request waits on it.
        });
      }, intervalSeconds * 1000);
      timer.unref();
      sweepers.add(timer);
      return () => {
        clearInterval(timer);
        sweepers.delete(timer);
      };
    },
    listRevocations: (sinceMs) => listRevocationsSince(ctx, sinceMs ?? Number.NEGATIVE_INFINITY),
    onRevocation: (listener) => ctx.bus.subscribe(listener),
    ping: () => ctx.store.ping(),
    async close() {
      for (const timer of sweepers) clearInterval(timer);
      sweepers.clear();
      await signer.close();
    },
  };
}
