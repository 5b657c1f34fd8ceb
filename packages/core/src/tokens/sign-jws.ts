import { type KeyObject, sign } from 'node:crypto';
import type { SigningAlg } from './keyring.ts';

/** The JWS signing input `BASE64URL(header).BASE64URL(payload)` (RFC 7515 §5.1). */
export function jwsSigningInput(header: Record<string, unknown>, payload: Record<string, unknown>): string {
  return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
}

/**
 * The base64url signature of a JWS signing input with Node's synchronous `crypto.sign`: EdDSA
 * (Ed25519), ES256 (P-256, raw r‖s signature per RFC 7518 §3.4) or RS256. Verification stays with
 * `jose`.
 */
export function signJwsInput(input: string, alg: SigningAlg, key: KeyObject): string {
  const data = Buffer.from(input);
  const signature =
    alg === 'EdDSA'
      ? sign(null, data, key)
      : alg === 'ES256'
        ? sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
        : sign('sha256', data, key);
  return signature.toString('base64url');
}
