import { type KeyObject, sign } from 'node:crypto';
import type { SigningAlg } from './keyring.ts';

/**
 * Signs a compact JWS (RFC 7515) with Node's synchronous `crypto.sign`: EdDSA (Ed25519), ES256
 * (P-256, raw r‖s signature per RFC 7518 §3.4) or RS256. One signature, no WebCrypto job round trip:
 * this is the hot path of every refresh. Verification stays with `jose`.
 */
export function signJws(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  alg: SigningAlg,
  key: KeyObject,
): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  const data = Buffer.from(input);
  const signature =
    alg === 'EdDSA'
      ? sign(null, data, key)
      : alg === 'ES256'
        ? sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' })
        : sign('sha256', data, key);
  return `${input}.${signature.toString('base64url')}`;
}
