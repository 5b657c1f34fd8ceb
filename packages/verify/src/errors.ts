/**
 * Why a token was refused: `invalid_token` (RFC 6750), `invalid_dpop_proof` (RFC 9449 §7.1: the
 * proof that came with a DPoP-bound token is missing or wrong), or `temporarily_unavailable` when the
 * verifier cannot vouch for it.
 */
export type VerifyErrorCode = 'invalid_token' | 'invalid_dpop_proof' | 'temporarily_unavailable';

/**
 * A refused token. `description` is the sentence sent to the caller (`WWW-Authenticate`, the JSON
 * body); `message` is the same sentence, or a fuller one for the operator when the cause is on the
 * service's side (setup failed: it names the URL tried and the option to set). Neither ever contains
 * the token.
 */
export class VerifyError extends Error {
  readonly code: VerifyErrorCode;
  readonly description: string;
  constructor(code: VerifyErrorCode, description: string, options?: { cause?: unknown; message?: string }) {
    super(
      options?.message ?? description,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'VerifyError';
    this.code = code;
    this.description = description;
  }
}
