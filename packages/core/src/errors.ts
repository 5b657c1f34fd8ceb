/**
 * Every error Tessera raises on purpose is a {@link TesseraError} with a stable wire `code`.
 * Codes are part of the public contract (see docs/errors.md): a released code never changes.
 */

/** Stable, machine-readable error codes. RFC 6749 §5.2 and RFC 6750 §3.1 names where they exist. */
export type TesseraErrorCode =
  | 'invalid_request'
  | 'invalid_grant'
  | 'invalid_client'
  | 'unsupported_grant_type'
  | 'unsupported_token_type'
  | 'invalid_target'
  | 'invalid_token'
  | 'invalid_credentials'
  | 'invalid_email'
  | 'invalid_password'
  | 'common_password'
  | 'totp_required'
  | 'invalid_totp'
  | 'totp_unavailable'
  | 'email_taken'
  | 'email_already_verified'
  | 'account_disabled'
  | 'reauthentication_required'
  | 'session_not_found'
  | 'not_found'
  | 'method_not_allowed'
  | 'unsupported_media_type'
  | 'payload_too_large'
  | 'request_timeout'
  | 'forbidden_origin'
  | 'csrf_header_required'
  | 'forbidden'
  | 'rate_limited'
  | 'service_unavailable'
  | 'storage_full'
  | 'invalid_configuration'
  | 'insufficient_user_authentication'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'invalid_recovery_code'
  | 'invalid_one_time_token'
  | 'identity_taken'
  | 'mfa_already_enabled'
  | 'mfa_not_enabled'
  | 'server_error';

/** The HTTP status of each code: the one table the server uses to map errors. */
export const ERROR_STATUS: Readonly<Record<TesseraErrorCode, number>> = Object.freeze({
  invalid_request: 400,
  invalid_grant: 400,
  invalid_client: 401,
  unsupported_grant_type: 400,
  unsupported_token_type: 400,
  // RFC 8693 §2.2.2: a token exchange asked for an audience or resource this server does not issue for.
  invalid_target: 400,
  invalid_token: 401,
  invalid_credentials: 401,
  invalid_email: 400,
  invalid_password: 400,
  common_password: 400,
  totp_required: 401,
  invalid_totp: 401,
  totp_unavailable: 409,
  email_taken: 409,
  email_already_verified: 409,
  account_disabled: 403,
  reauthentication_required: 401,
  session_not_found: 404,
  not_found: 404,
  method_not_allowed: 405,
  unsupported_media_type: 415,
  payload_too_large: 413,
  // The standalone server's own answer to a request that did not arrive within TESSERA_REQUEST_TIMEOUT.
  request_timeout: 408,
  forbidden_origin: 403,
  csrf_header_required: 403,
  forbidden: 403,
  rate_limited: 429,
  service_unavailable: 503,
  storage_full: 503,
  // The engine's own options are wrong: an operator's mistake, never a client's.
  invalid_configuration: 500,
  // RFC 9470 §3: a bearer challenge, so 401.
  insufficient_user_authentication: 401,
  // RFC 9449 §5.2 (token endpoint: 400) and §7.1 (resource: 401); the route picks, this is the token endpoint's.
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  invalid_recovery_code: 401,
  invalid_one_time_token: 400,
  identity_taken: 409,
  mfa_already_enabled: 409,
  mfa_not_enabled: 409,
  server_error: 500,
});

/** Options of a {@link TesseraError}. */
export interface TesseraErrorOptions {
  /** The underlying error, kept for logs; never serialized to clients. */
  cause?: unknown;
  /** The request field at fault, for validation errors (for `invalid_configuration`: the option). */
  field?: string;
  /** Seconds after which a rate-limited caller may retry. */
  retryAfterSeconds?: number;
  /** Why a session can no longer be used (`invalid_grant`): lets clients tell the user what happened. */
  sessionEnded?: SessionEndedReason;
}

/** Why a refresh or renewal found the session over: stable values, sent as `session_ended`. */
export type SessionEndedReason = 'revoked' | 'reuse_detected' | 'expired' | 'reauthentication_required';

/**
 * An expected failure with a stable `code`, a human `message` (never containing a token or a
 * secret) and the HTTP `status` from {@link ERROR_STATUS}.
 */
export class TesseraError extends Error {
  readonly code: TesseraErrorCode;
  readonly status: number;
  readonly field: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly sessionEnded: SessionEndedReason | undefined;

  constructor(code: TesseraErrorCode, message: string, options: TesseraErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TesseraError';
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.sessionEnded = options.sessionEnded;
  }
}

/** True when `value` is a {@link TesseraError}, whatever realm it came from. */
export function isTesseraError(value: unknown): value is TesseraError {
  return value instanceof TesseraError || (value instanceof Error && value.name === 'TesseraError');
}

/** Thrown by a store when the database cannot be reached; the server answers 503 with `Retry-After`. */
export class StoreUnavailableError extends TesseraError {
  constructor(cause: unknown) {
    super('service_unavailable', 'The session store is unavailable; try again shortly.', {
      cause,
      retryAfterSeconds: 5,
    });
  }
}

/**
 * Thrown by a store when a write cannot commit because the disk is full (SQLite `SQLITE_FULL`,
 * PostgreSQL `53100`): nothing was written. The server answers 503 `storage_full` with `Retry-After`.
 */
export class StorageFullError extends TesseraError {
  constructor(cause: unknown) {
    super('storage_full', 'The server cannot store changes right now (its disk is full); try again later.', {
      cause,
      retryAfterSeconds: 30,
    });
  }
}

/**
 * RFC 9470 §3: the access token is valid, but the authentication behind it is too old (or too weak) for
 * this operation. `maxAgeSeconds` and `acrValues` are what the operation requires; the server answers
 * 401 with `WWW-Authenticate: Bearer error="insufficient_user_authentication", max_age=…`.
 */
export class InsufficientUserAuthenticationError extends TesseraError {
  readonly maxAgeSeconds: number | undefined;
  readonly acrValues: readonly string[] | undefined;
  constructor(message: string, requirement: { maxAgeSeconds?: number; acrValues?: readonly string[] }) {
    super('insufficient_user_authentication', message);
    this.maxAgeSeconds = requirement.maxAgeSeconds;
    this.acrValues = requirement.acrValues;
  }
}
