// Tessera's `acr` values, for `requireAuth(verifier, { acr })`.
export { ACR_ONE_FACTOR, ACR_TWO_FACTOR } from '@tessera/protocol';
export type { VerifiedClaims, Verifier, VerifierStatus } from './create-verifier.ts';
export { createVerifier } from './create-verifier.ts';
export type { DpopRequestParts } from './dpop-proof.ts';
export type { VerifyErrorCode } from './errors.ts';
export { VerifyError } from './errors.ts';
export type {
  AuthOutcome,
  AuthRefusal,
  HeaderSource,
  RequestParts,
  RequireAuthOptions,
} from './request-auth.ts';
export { authenticateRequest, checkRequireAuthOptions, refusalFor, refusalResponse } from './request-auth.ts';
export type { RevocationSet } from './revocation-set.ts';
export { createRevocationSet } from './revocation-set.ts';
export type { VerifierOptions } from './verifier-options.ts';
export { VERIFIER_DEFAULTS } from './verifier-options.ts';
