export type { AuthorizationScheme, ParsedAuthorization } from './authorization.ts';
export { MAX_TOKEN_LENGTH, parseAuthorization } from './authorization.ts';
export type { ChallengeParams } from './challenge.ts';
export { challenge, quoteHeaderValue } from './challenge.ts';
export type { TesseraClaims } from './claims.ts';
export {
  ACCESS_TOKEN_TYP,
  checkTesseraClaims,
  describeVerificationError,
  isSoftExpired,
  MAX_CLOCK_LEEWAY_SECONDS,
  REQUIRED_REGISTERED_CLAIMS,
  readKeyId,
  TOKEN_SOFT_EXPIRED,
} from './claims.ts';
export { RENEWED_TOKEN_EXPIRES_HEADER, RENEWED_TOKEN_HEADER, TRANSPORT_HEADER } from './headers.ts';
export type { RevocableClaims, WireRevocation } from './revocation.ts';
export {
  FEED_EVENTS,
  FEED_HEARTBEAT_INTERVAL_MS,
  parseWireRevocation,
  REVOCATION_STREAM_SUFFIX,
  REVOCATIONS_ENDPOINT_METADATA,
} from './revocation.ts';
