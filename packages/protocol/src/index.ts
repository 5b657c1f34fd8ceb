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
export type {
  AcceptedDpopProof,
  DpopAlgorithm,
  DpopChallengeError,
  DpopCheckResult,
  DpopErrorCode,
  DpopProofExpectations,
  DpopPublicJwk,
  ParsedDpopHeader,
} from './dpop.ts';
export {
  checkDpopProof,
  checkDpopProofHeader,
  computeDpopAth,
  DEFAULT_DPOP_PROOF_LEEWAY_SECONDS,
  DEFAULT_DPOP_PROOF_MAX_AGE_SECONDS,
  DPOP_HEADER,
  DPOP_NONCE_HEADER,
  DPOP_PROOF_TYP,
  DPOP_SIGNING_ALGS,
  DPOP_TOKEN_TYPE,
  dpopChallenge,
  INVALID_DPOP_PROOF,
  MAX_DPOP_JTI_LENGTH,
  normalizeHtu,
  readConfirmationThumbprint,
  readDpopHeader,
  USE_DPOP_NONCE,
} from './dpop.ts';
export { RENEWED_TOKEN_EXPIRES_HEADER, RENEWED_TOKEN_HEADER, TRANSPORT_HEADER } from './headers.ts';
export type { ReplayCache } from './replay-cache.ts';
export { createReplayCache } from './replay-cache.ts';
export type { RevocableClaims, WireRevocation } from './revocation.ts';
export {
  FEED_EVENTS,
  FEED_HEARTBEAT_INTERVAL_MS,
  parseWireRevocation,
  REVOCATION_STREAM_SUFFIX,
  REVOCATIONS_ENDPOINT_METADATA,
} from './revocation.ts';
export type { StepUpRequest, StepUpRequirement } from './step-up.ts';
export {
  ACR_ONE_FACTOR,
  ACR_TWO_FACTOR,
  checkStepUp,
  INSUFFICIENT_USER_AUTHENTICATION,
  readStepUpChallenge,
  stepUpChallenge,
  stepUpOptions,
} from './step-up.ts';
