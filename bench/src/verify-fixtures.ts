// What the verifier scenarios share: an EdDSA key publishing one JWKS entry, access tokens shaped
// like Tessera's signed with it, and the batch loop that times a verifier.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { BENCH_ISSUER } from './cluster.ts';

/** A signing key for verifier benchmarks and the access tokens it mints. */
export interface BenchTokenSigner {
  publicKey: Awaited<ReturnType<typeof generateKeyPair>>['publicKey'];
  /** The public key as its JWKS entry (`kid`, `alg`, `use`). */
  jwk: JWK;
  /** `count` distinct access tokens (RFC 9068, Tessera's claims, 10 minutes), with `claims` added. */
  mint(count: number, claims?: Record<string, unknown>): Promise<string[]>;
}

/** Makes an Ed25519 key and the minter of access tokens issued by {@link BENCH_ISSUER} for itself. */
export async function createBenchTokenSigner(): Promise<BenchTokenSigner> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const kid = 'bench-key';
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  const mint = (count: number, claims: Record<string, unknown> = {}): Promise<string[]> => {
    const nowS = Math.floor(Date.now() / 1000);
    return Promise.all(
      Array.from({ length: count }, (_, i) =>
        new SignJWT({
          sid: randomBytes(16).toString('base64url'),
          ver: 1,
          client_id: 'tessera',
          roles: [],
          ...claims,
        })
          .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid })
          .setIssuer(BENCH_ISSUER)
          .setSubject(`user-${i}`)
          .setAudience(BENCH_ISSUER)
          .setIssuedAt(nowS)
          .setExpirationTime(nowS + 600)
          .setJti(randomBytes(16).toString('base64url'))
          .sign(privateKey),
      ),
    );
  };
  return { publicKey, jwk, mint };
}

/**
 * Operations per second: batches of 64 concurrent calls of `next` (like a busy service) until
 * `seconds` pass or `next` runs dry (`null`).
 */
export async function operationsPerSecond(
  seconds: number,
  next: () => Promise<unknown> | null,
): Promise<number> {
  let done = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    const batch: Array<Promise<unknown>> = [];
    for (let k = 0; k < 64; k += 1) {
      const call = next();
      if (call === null) break;
      batch.push(call);
    }
    if (batch.length === 0) break;
    await Promise.all(batch);
    done += batch.length;
  }
  return done / ((performance.now() - started) / 1000);
}

/**
 * The best of `rounds` timings of each entry of `timings` (operations per second), the entries taken
 * in turn every round so machine noise hits them alike.
 */
export async function bestOfInterleaved<K extends string>(
  rounds: number,
  timings: Record<K, () => Promise<number>>,
): Promise<Record<K, number>> {
  const best = {} as Record<K, number>;
  for (let round = 0; round < rounds; round += 1) {
    for (const key of Object.keys(timings) as K[]) best[key] = Math.max(best[key] ?? 0, await timings[key]());
  }
  return best;
}
