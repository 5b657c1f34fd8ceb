export type { Clock, ManualClock } from './clock.ts';
export { createManualClock, systemClock } from './clock.ts';
export { formatDurationSeconds, parseDurationSeconds } from './duration.ts';
export type { UserUpdate, UserUpdateResult } from './engine/account.ts';
export type { AccountLifecycle } from './engine/account-lifecycle.ts';
export type { OneTimeTokenTtls } from './engine/account-lifecycle-options.ts';
export {
  ONE_TIME_TOKEN_TTL_DEFAULTS,
  WEBHOOK_TIMEOUT_DEFAULT_SECONDS,
} from './engine/account-lifecycle-options.ts';
export type { AccessPresentation, Authenticated } from './engine/authenticate.ts';
export { createEngine } from './engine/create-engine.ts';
export type { DpopMode, DpopProofRequest } from './engine/dpop.ts';
export { DPOP_MODES, DPOP_NONCE_WINDOW_SECONDS, DpopNonceError } from './engine/dpop.ts';
export type { EmailChangeRequest } from './engine/email-change.ts';
export type { EmailVerificationInput, VerifiedEmail } from './engine/email-verification.ts';
export type { Engine, EngineSettings } from './engine/engine.ts';
export type { ExchangedTokenSet, IdTokenExchangeInput } from './engine/id-token-exchange.ts';
export {
  ACCESS_TOKEN_TYPE,
  ID_TOKEN_TYPE,
  REFRESH_TOKEN_TYPE,
  SUBJECT_TOKEN_MAX_LENGTH,
  TOKEN_EXCHANGE_GRANT,
} from './engine/id-token-exchange.ts';
export type { Identity } from './engine/identities.ts';
export type { IntrospectionResult } from './engine/introspect.ts';
export type { AccessGrant, TokenSet } from './engine/issue-tokens.ts';
export type { ClientInfo, LoginInput, RegisterInput } from './engine/login.ts';
export type { MagicLinkRequest, MagicLinkSignIn } from './engine/magic-link.ts';
export type { TotpEnrollment, TwoFactorStatus } from './engine/mfa.ts';
export type { EngineOptions, ResolvedEngineOptions } from './engine/options.ts';
export { ENGINE_DEFAULTS } from './engine/options.ts';
export type { OutboxPass } from './engine/outbox-worker.ts';
export { WEBHOOK_MAX_ATTEMPTS, WEBHOOK_RETRY_DELAYS_SECONDS } from './engine/outbox-worker.ts';
export type { PasswordResetInput, PasswordResetRequest } from './engine/password-reset.ts';
export type { PolicyName } from './engine/policies/registry.ts';
export {
  POLICY_DEFAULT_ACCESS_TTL_SECONDS,
  POLICY_MAX_ACCESS_TTL_SECONDS,
  POLICY_NAMES,
} from './engine/policies/registry.ts';
export type { PolicyRenewal, RenewClient } from './engine/policies/session-policy.ts';
export type { RateLimits } from './engine/rate-limits.ts';
export { DEFAULT_RATE_LIMITS } from './engine/rate-limits.ts';
export type { ReauthenticateInput } from './engine/reauthenticate.ts';
export { resolveEngineOptions } from './engine/resolve-options.ts';
export type { RefreshInput } from './engine/rotate-refresh-token.ts';
export type { StartSessionInput } from './engine/start-session.ts';
export { AMR_VALUES } from './engine/start-session.ts';
export type { AuthenticationRequirement } from './engine/step-up.ts';
export type {
  ResolvedTrustedIssuer,
  TrustedIssuer,
  TrustedIssuerFetch,
} from './engine/trusted-issuers.ts';
export { ID_TOKEN_ALGORITHMS, resolveTrustedIssuers } from './engine/trusted-issuers.ts';
export type { CreateUserInput, ListUsersOptions, UserPage } from './engine/users.ts';
export type { Profile, SessionInfo, SessionView } from './engine/views.ts';
export type { WebhookEventView } from './engine/webhook-admin.ts';
export type { WebhookDeliver, WebhookEventType, WebhookMessage } from './engine/webhook-events.ts';
export { WEBHOOK_EVENT_TYPES } from './engine/webhook-events.ts';
export type { SessionEndedReason, TesseraErrorCode, TesseraErrorOptions } from './errors.ts';
export {
  ERROR_STATUS,
  InsufficientUserAuthenticationError,
  isTesseraError,
  StorageFullError,
  StoreUnavailableError,
  TesseraError,
} from './errors.ts';
export type { EventListener, TesseraEvent } from './events.ts';
export type { Argon2Params, PasswordHasher } from './password.ts';
export {
  createPasswordHasher,
  EMAIL_MAX_LENGTH,
  OWASP_ARGON2ID,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
} from './password.ts';
export type { RateLimitDecision, RateLimiter, RateLimitRule } from './rate-limit.ts';
export { createMemoryRateLimiter } from './rate-limit.ts';
export type { Revocation, RevocationBus } from './revocation-bus.ts';
export { createInProcessBus } from './revocation-bus.ts';
export { createMemoryStore } from './store/memory-store.ts';
export { createSqliteStore } from './store/sqlite-store.ts';
export type {
  CreateSessionOptions,
  EmitEvents,
  IdentityKey,
  IdentityRecord,
  OneTimeTokenKind,
  OneTimeTokenRecord,
  OutboxEventInput,
  OutboxRecord,
  OutboxState,
  RedeemEffect,
  RedeemResult,
  RevokeReason,
  RotationUpdate,
  SessionRecord,
  SigningKeyRecord,
  Store,
  StoreCapabilities,
  UserPatch,
  UserRecord,
} from './store/store.ts';
export { hasControlCharacters } from './text.ts';
export type { AccessTokenClaims } from './tokens/access-token.ts';
export type { Jwks, SigningAlg } from './tokens/keyring.ts';
export { SIGNING_ALGS } from './tokens/keyring.ts';
