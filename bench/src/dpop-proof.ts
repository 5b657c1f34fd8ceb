// DPoP proofs for the load generator: one fresh ES256 proof per request, signed synchronously because
// autocannon builds each request in a synchronous callback (jose's signing is asynchronous). The
// server verifies them with jose like any client's; this is only the client side of the benchmark.
import { createPrivateKey, generateKeyPairSync, type JsonWebKey, randomUUID, sign } from 'node:crypto';

/** A pre-made ES256 key pair as JWKs, sent to the load generator's process. */
export interface DpopBenchKey {
  privateJwk: JsonWebKey;
  publicJwk: JsonWebKey;
}

/** Makes the ES256 (P-256) key pair every DPoP request of a run signs with. */
export function createDpopBenchKey(): DpopBenchKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  return { privateJwk: privateKey.export({ format: 'jwk' }), publicJwk: { kty, crv, x, y } as JsonWebKey };
}

/**
 * A signer of RFC 9449 proofs for `htm` `htu`: each call returns a new compact JWS (`typ: dpop+jwt`,
 * the public key in `jwk`, a random `jti`, `iat` now).
 */
export function dpopProofSigner(key: DpopBenchKey, htm: string, htu: string): () => string {
  const privateKey = createPrivateKey({ key: key.privateJwk, format: 'jwk' });
  const header = Buffer.from(JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk })).toString(
    'base64url',
  );
  return () => {
    const claims = { jti: randomUUID(), htm, htu, iat: Math.floor(Date.now() / 1000) };
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    return `${input}.${signature.toString('base64url')}`;
  };
}
