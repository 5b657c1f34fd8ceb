import type { Revocation } from '../revocation-bus.ts';
import type { IdentityKey } from '../store/store.ts';
import type { Jwks, SigningAlg } from '../tokens/keyring.ts';
import type { UserUpdate, UserUpdateResult } from './account.ts';
import type { AccountLifecycle } from './account-lifecycle.ts';
import type { AccessPresentation, Authenticated } from './authenticate.ts';
import type { DpopProofRequest } from './dpop.ts';
import type { ExchangedTokenSet, IdTokenExchangeInput } from './id-token-exchange.ts';
import type { Identity } from './identities.ts';
import type { IntrospectionResult } from './introspect.ts';
import type { AccessGrant, TokenSet } from './issue-tokens.ts';
import type { LoginInput, RegisterInput } from './login.ts';
import type { TotpEnrollment, TwoFactorStatus } from './mfa.ts';
import type { ResolvedEngineOptions } from './options.ts';
import type { PolicyRenewal, RenewClient } from './policies/session-policy.ts';
import type { ReauthenticateInput } from './reauthenticate.ts';
import type { RefreshInput } from './rotate-refresh-token.ts';
import type { StartSessionInput } from './start-session.ts';
import type { AuthenticationRequirement } from './step-up.ts';
import type { CreateUserInput, ListUsersOptions, UserPage } from './users.ts';
import type { Profile, SessionView } from './views.ts';

/**
 * The session engine: every operation on users, sessions and tokens. Framework-free. Every method
 * returns public shapes (never a stored record, a password hash or a TOTP secret) and throws only
 * {@link TesseraError}s with stable codes for anything a caller sent.
 */
export interface Engine extends AccountLifecycle {
  /** The resolved settings other layers need, including what the policy issues and how it renews. */
  readonly settings: EngineSettings;
  /**
   * Creates a user and a first session in one write. Throws `invalid_email`, `invalid_password`,
   * `common_password`, `invalid_request` (device name), `rate_limited`, `email_taken`.
   */
  register(input: RegisterInput): Promise<TokenSet>;
  /**
   * Starts a session from an email and password (and, with two-factor login on, a TOTP code accepted
   * once or a recovery code). Throws `invalid_email`, `invalid_password`, `invalid_request`,
   * `rate_limited`, `invalid_credentials`, `account_disabled`, `totp_required`, `invalid_totp`,
   * `invalid_recovery_code`.
   */
  login(input: LoginInput): Promise<TokenSet>;
  /** Rotates a refresh token (RFC 6749 §6, with reuse detection). Throws `invalid_grant`, `rate_limited`. */
  refresh(input: RefreshInput): Promise<TokenSet>;
  /**
   * Verifies an access token for a bearer route: signature and claims as `@tessera/verify` checks them,
   * then a live session (not revoked, idle- or absolutely expired, or past the maximum login age), an
   * enabled user and a current token version. A DPoP-bound token needs `presentation.dpopJkt` from
   * {@link Engine.verifyDpopProof} of the same request (checked with this token) equal to its key; an
   * unbound one must come without. Throws `invalid_token`, `invalid_dpop_proof`.
   */
  authenticate(accessToken: string, presentation?: AccessPresentation): Promise<Authenticated>;
  /**
   * RFC 9449: verifies a request's DPoP proof (signature by its embedded key, `typ`, `alg`, `htm`, `htu`
   * against `request.url`, `iat` window, `ath` when `accessToken` is given, the server nonce when
   * `dpopNonce` is on, `jti` never seen before in the window) and returns its key's SHA-256 JWK
   * thumbprint, to pass as `dpopJkt` to a sign-in, a refresh or `authenticate`. `null`: no proof (or
   * DPoP `off`). Throws `invalid_dpop_proof` (also for a token request without a proof under
   * `dpop: 'required'`) or `use_dpop_nonce` (a `DpopNonceError` carrying the nonce to send).
   * @example
   * const dpopJkt = await engine.verifyDpopProof({ proof: req.headers.get('dpop'), method: 'POST', url: 'https://auth.example.com/auth/refresh' });
   * const tokens = await engine.refresh({ refreshToken, dpopJkt });
   */
  verifyDpopProof(request: DpopProofRequest): Promise<string | null>;
  /** The server's current DPoP nonce for the `DPoP-Nonce` header (RFC 9449 §8), or `null` when nonces are off. */
  dpopNonce(): string | null;
  /** `renewal: 'soft'`: renews a soft-expired token of a live session, once. Throws `invalid_request`, `invalid_token`, `invalid_grant`. */
  renew(accessToken: string, client?: RenewClient): Promise<TokenSet>;
  /** `renewal: 'exchange'`: an expired token plus its session's handle buys a new one, once. Throws `invalid_request`, `invalid_grant`. */
  exchangeExpired(accessToken: string, sessionHandle: string, client?: RenewClient): Promise<TokenSet>;
  /**
   * `renewal: 'sliding'`: a renewed token for an authenticated request once the presented token is past
   * half its life, else `null` (always `null` under other policies).
   */
  slide(auth: Authenticated, client?: RenewClient): Promise<AccessGrant | null>;
  /** Ends the session a session handle names; returns its id. Throws `invalid_grant`. */
  logoutWithSessionHandle(sessionHandle: string): Promise<string>;
  /** Ends the session a refresh token (of any issued generation) names; returns its id. Throws `invalid_grant`. */
  logoutWithRefreshToken(refreshToken: string): Promise<string>;
  /** Ends one session (idempotent); true if it was live. */
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
  /**
   * Changes the password of the authenticated user after checking the current one (counted per
   * account and per `client.ip` before the check); ends the user's other sessions and returns fresh
   * tokens for this one. Throws `invalid_request`, `rate_limited`, `invalid_credentials`,
   * `invalid_password`, `common_password`.
   */
  changePassword(
    auth: Authenticated,
    currentPassword: string,
    newPassword: string,
    client?: RenewClient,
  ): Promise<TokenSet>;
  /** The user's own account. Throws `not_found`. */
  getProfile(userId: string): Promise<Profile>;
  /**
   * Self-service profile change (configured fields only); returns the profile and a fresh access token
   * with the new claims that keeps the presented token's `exp`. Throws `invalid_request`.
   */
  updateProfile(auth: Authenticated, patch: Record<string, unknown>): Promise<UserUpdateResult>;
  /**
   * App-side change to a user (roles, profile, disabled, force re-authentication), optionally bumping
   * the token version; returns the profile and, for an acting session, a fresh access token that never
   * outlives the one it replaces. Throws `invalid_request`, `not_found`.
   */
  updateUser(userId: string, update: UserUpdate): Promise<UserUpdateResult>;
  /** Looks a user up by email, normalized as at registration (for admin tools); null if none. */
  findUserByEmail(email: string): Promise<Profile | null>;
  /**
   * Starts TOTP enrolment for the authenticated user: a new secret (stored sealed, pending) and its
   * `otpauth://` URI. Needs a recent authentication. Throws `insufficient_user_authentication`,
   * `mfa_already_enabled`.
   */
  enrollTotp(auth: Authenticated): Promise<TotpEnrollment>;
  /**
   * Confirms enrolment with a code from the user's app: two-factor login on, ten recovery codes returned
   * (once). Needs a recent authentication. Throws `insufficient_user_authentication`, `invalid_request`,
   * `mfa_already_enabled`, `mfa_not_enabled`, `rate_limited`, `invalid_totp`.
   */
  confirmTotp(auth: Authenticated, code: string): Promise<{ recoveryCodes: string[] }>;
  /** Ten new recovery codes replacing the old ones. Throws `insufficient_user_authentication`, `mfa_not_enabled`. */
  regenerateRecoveryCodes(auth: Authenticated): Promise<{ recoveryCodes: string[] }>;
  /**
   * Turns two-factor login off after a TOTP or recovery code. Needs a recent authentication. Throws
   * `insufficient_user_authentication`, `invalid_request`, `mfa_not_enabled`, `rate_limited`,
   * `invalid_totp`, `invalid_recovery_code`.
   */
  disableTotp(auth: Authenticated, code: string): Promise<void>;
  /** The user's two-factor state. Throws `not_found`. */
  getTwoFactorStatus(userId: string): Promise<TwoFactorStatus>;
  /**
   * RFC 9470 step-up: the user proves who they are again (password; with two-factor login on, a TOTP or
   * recovery code), renewing the session's `auth_time` and `amr`; returns a fresh access token that
   * expires no later than the presented one (no refresh token, nothing rotated). Throws
   * `invalid_request`, `invalid_password`, `mfa_not_enabled`, `totp_required`, `rate_limited`,
   * `invalid_credentials`, `invalid_totp`, `invalid_recovery_code`, `invalid_token`.
   */
  reauthenticate(auth: Authenticated, input: ReauthenticateInput, client?: RenewClient): Promise<TokenSet>;
  /**
   * Throws `insufficient_user_authentication` (carrying the requirement for the RFC 9470 challenge)
   * unless the presented token's `auth_time` is within `maxAgeSeconds` (default
   * `settings.reauthMaxAgeSeconds`; `null`: no limit) and its `acr` is one of `acrValues` (default:
   * any). For an app's own sensitive operations (an `auth` from `engine.authenticate`;
   * `requireSession(engine, { maxAge, acr })` checks the same on the app's routes); the engine's
   * two-factor operations call it themselves.
   */
  assertRecentAuthentication(auth: Authenticated, requirement?: AuthenticationRequirement): void;
  /** Emergency revoke-all: every session and token issued before now. */
  emergencyRevokeAll(): Promise<{ notBefore: Date; sessions: number }>;
  /** RFC 7662 introspection of an access or refresh token. */
  introspect(token: string): Promise<IntrospectionResult>;
  /**
   * RFC 7009 revocation: ends the session of a token introspection calls active; anything else (unknown,
   * outdated, already refused) is ignored.
   */
  revokeToken(token: string): Promise<void>;
  /** The public JWKS (RFC 7517 §5): the signing key and retired keys whose tokens may still be valid. */
  jwks(): Promise<Jwks>;
  /** Rotates the signing key; the old one stays published until its tokens expired. Returns the new kid. */
  rotateSigningKey(alg?: SigningAlg): Promise<string>;
  /** Deletes sessions ended more than `retentionSeconds` (default 1 day) ago, in bounded batches. Returns how many. */
  sweep(retentionSeconds?: number): Promise<number>;
  /** Starts sweeping every `intervalSeconds` (default 300) in the background; returns a stop function. */
  startSweeper(intervalSeconds?: number): () => void;
  /**
   * Live revocations recorded since `sinceMs` (default: one access-token lifetime ago, i.e. all that
   * can still matter), from the store.
   */
  listRevocations(sinceMs?: number): Promise<Revocation[]>;
  /** Calls `listener` for every revocation published on the bus (this and, when shared, other instances). */
  onRevocation(listener: (revocation: Revocation) => void): () => void;
  /**
   * Resolves when the store answers; throws `service_unavailable` otherwise. With `write: true` it also
   * proves a durable write commits now, throwing `storage_full` when the disk is full.
   */
  ping(options?: { write?: boolean }): Promise<void>;
  /**
   * Stops background work: the sweeper and the outbox worker (its attempts in flight are aborted and
   * recorded for a retry). Not the store: its owner closes it.
   */
  close(): Promise<void>;

  /**
   * Starts a session for a user the app authenticated itself (its own passwords, a passkey, an identity
   * provider) and returns the same token set as a login, under every policy. `amr` says how (RFC 8176
   * values); `authTime` defaults to now. A user flagged for re-authentication has its older sessions
   * ended and the flag cleared, as a login does. Throws `invalid_request`, `not_found`, `account_disabled`.
   * @example
   * const tokens = await engine.startSession({ userId, amr: ['hwk', 'user'], deviceName: 'Laptop', ip, userAgent });
   */
  startSession(input: StartSessionInput): Promise<TokenSet>;
  /**
   * Creates a user without a password (email optional). Throws `invalid_request`, `invalid_email`,
   * `email_taken`.
   */
  createUser(input?: CreateUserInput): Promise<Profile>;
  /** A user by id, as admin tools see it. Throws `not_found`. */
  getUser(userId: string): Promise<Profile>;
  /** Users in id order, a page at a time (`after`: the previous page's `next`). Throws `invalid_request`. */
  listUsers(options?: ListUsersOptions): Promise<UserPage>;
  /**
   * Links an external identity (`issuer` + `subject`: an OIDC `iss`/`sub`, or a name of the app's own)
   * to a user; a user may have many. Returns `linked` or `already_linked`. Throws `invalid_request`,
   * `not_found`, `identity_taken` (another user has it).
   */
  linkIdentity(userId: string, identity: IdentityKey): Promise<'linked' | 'already_linked'>;
  /** Removes a link; false when the user had no such identity. Throws `invalid_request`. */
  unlinkIdentity(userId: string, identity: IdentityKey): Promise<boolean>;
  /** The user an identity is linked to, or `null`. Throws `invalid_request`. */
  findUserByIdentity(identity: IdentityKey): Promise<Profile | null>;
  /** The user's linked identities, oldest first. Throws `not_found`. */
  listIdentities(userId: string): Promise<Identity[]>;
  /**
   * RFC 8693: exchanges an ID token from a trusted issuer (`trustedIssuers`) for a session of the user
   * its `(iss, sub)` maps to, creating the user at the first sign-in. Throws `invalid_request`,
   * `invalid_grant` (the token is refused; nothing changed), `rate_limited`, `account_disabled`,
   * `email_taken`, `service_unavailable` (the provider is unreachable).
   */
  exchangeIdToken(input: IdTokenExchangeInput): Promise<ExchangedTokenSet>;
}

/**
 * Settings of an engine other layers read (durations in seconds): the resolved options a host needs, and
 * what the policy issues and how it renews, as data, so a host never compares policy names.
 */
export interface EngineSettings
  extends Pick<
    ResolvedEngineOptions,
    | 'policy'
    | 'issuer'
    | 'audience'
    | 'clientId'
    | 'signingAlg'
    | 'accessTtlSeconds'
    | 'softTtlSeconds'
    | 'refreshIdleTtlSeconds'
    | 'refreshAbsoluteTtlSeconds'
    | 'reuseGraceSeconds'
    | 'clockLeewaySeconds'
    | 'maxLoginAgeSeconds'
    | 'reauthMaxAgeSeconds'
    | 'maxSessionsPerUser'
    | 'profileFields'
    | 'dpop'
    | 'dpopNonce'
    | 'dpopProofMaxAgeSeconds'
  > {
  /** Token responses carry a rotating refresh token (refresh cookie or `refresh_token`). */
  readonly issuesRefreshToken: boolean;
  /** Token responses carry a session handle (session cookie or `session_token`). */
  readonly issuesSessionHandle: boolean;
  /** How access is renewed: which route or response the HTTP layer offers (see {@link PolicyRenewal}). */
  readonly renewal: PolicyRenewal;
  /** The issuers whose ID tokens `exchangeIdToken` accepts (empty: the exchange is off). */
  readonly trustedIssuers: readonly string[];
  /** A webhook delivery target (`deliver`) is configured: events are written and the one-time-token flows are on. */
  readonly deliversWebhooks: boolean;
}
