/** Why a token was refused: `invalid_token` (RFC 6750), or `temporarily_unavailable` when the verifier cannot vouch for revocations. */
export type VerifyErrorCode = 'invalid_token' | 'temporarily_unavailable';

/** A refused token. `description` is a sentence for the `WWW-Authenticate` header; it never contains the token. */
export class VerifyError extends Error {
  readonly code: VerifyErrorCode;
  readonly description: string;
  constructor(code: VerifyErrorCode, description: string, options?: { cause?: unknown }) {
    super(description, options);
    this.name = 'VerifyError';
    this.code = code;
    this.description = description;
  }
}
