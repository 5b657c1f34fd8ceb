import { randomUUID } from 'node:crypto';
import { computeDpopAth } from '@tessera/protocol';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

/** A DPoP key pair for tests, with its public JWK and SHA-256 thumbprint (RFC 7638). */
export interface TestDpopKey {
  alg: 'ES256' | 'EdDSA' | 'Ed25519' | 'RS256';
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  publicJwk: JWK;
  jkt: string;
}

/** Makes a DPoP key pair (`ES256` by default) the way a client would. */
export async function createTestDpopKey(alg: TestDpopKey['alg'] = 'ES256'): Promise<TestDpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  // (`Ed25519` is RFC 9864's name for EdDSA over Ed25519; the key is the same.)
  const publicJwk = await exportJWK(publicKey);
  return { alg, privateKey, publicJwk, jkt: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

/** What a test proof says; anything left out gets a correct value. `header` overrides the protected header. */
export interface TestProofClaims {
  htm: string;
  htu: string;
  /** Seconds; default now by the system clock (pass the engine's clock in tests). */
  iat?: number;
  jti?: string;
  /** The access token the proof accompanies: `ath` is computed from it. */
  accessToken?: string;
  /** An `ath` to send as is (a wrong one, for refusal tests). */
  ath?: string;
  nonce?: string;
  header?: Record<string, unknown>;
}

/**
 * Signs a DPoP proof (RFC 9449 §4.2) with `key`: `typ: dpop+jwt`, the public key in `jwk`, a random
 * `jti`, and `ath` when an access token is given.
 * @example
 * const proof = await signTestDpopProof(key, { htm: 'POST', htu: 'http://127.0.0.1:4000/auth/refresh', iat: clock.now() / 1000 });
 */
export async function signTestDpopProof(key: TestDpopKey, claims: TestProofClaims): Promise<string> {
  const payload: Record<string, unknown> = { htm: claims.htm, htu: claims.htu };
  if (claims.accessToken !== undefined) payload.ath = await computeDpopAth(claims.accessToken);
  if (claims.ath !== undefined) payload.ath = claims.ath;
  if (claims.nonce !== undefined) payload.nonce = claims.nonce;
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.publicJwk, ...claims.header })
    .setIssuedAt(Math.floor(claims.iat ?? Date.now() / 1000))
    .setJti(claims.jti ?? randomUUID())
    .sign(key.privateKey);
}
