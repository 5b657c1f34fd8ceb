export type { Clock, ManualClock } from './clock.ts';
export { createManualClock, systemClock } from './clock.ts';
export { formatDurationSeconds, parseDurationSeconds } from './duration.ts';
export type { Profile, UserUpdate, UserUpdateResult } from './engine/account.ts';
export type { Authenticated } from './engine/authenticate.ts';
export type { TokenSet } from './engine/context.ts';
export type { Engine, EngineSettings, SessionView } from './engine/create-engine.ts';
export { createEngine } from './engine/create-engine.ts';
export type { IntrospectionResult } from './engine/introspect.ts';
export type { ClientInfo, LoginInput, RegisterInput } from './engine/login.ts';
export type { EngineOptions, RateLimits } from './engine/options.ts';
export { DEFAULT_RATE_LIMITS } from './engine/options.ts';
export type { PolicyName } from './engine/policy.ts';
export { POLICY_DEFAULT_ACCESS_TTL_SECONDS, POLICY_NAMES } from './engine/policy.ts';
export type { RenewClient } from './engine/renew.ts';
export type { RefreshInput } from './engine/rotate-refresh-token.ts';
export type { SessionEndedReason, TesseraErrorCode, TesseraErrorOptions } from './errors.ts';
export {
  ERROR_STATUS,
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
export { ACCESS_TOKEN_TYP, verifyAccessTokenSignature } from './tokens/access-token.ts';
export type { ActiveSigningKey, Jwks, Keyring, SigningAlg, VerificationKey } from './tokens/keyring.ts';
export { SIGNING_ALGS } from './tokens/keyring.ts';
export { parseRefreshToken, REFRESH_TOKEN_PREFIX, SESSION_HANDLE_PREFIX } from './tokens/refresh-token.ts';
export { totpCode } from './totp.ts';
