export type { VerifiedClaims, Verifier, VerifierOptions, VerifierStatus } from './create-verifier.ts';
export { createVerifier } from './create-verifier.ts';
export type { VerifyErrorCode } from './errors.ts';
export { VerifyError } from './errors.ts';
export type { AuthFailure } from './http-errors.ts';
export { authorize, missingToken, readBearer, refusal } from './http-errors.ts';
export type { FeedRevocation, RevocationSet } from './revocation-set.ts';
export { createRevocationSet } from './revocation-set.ts';
