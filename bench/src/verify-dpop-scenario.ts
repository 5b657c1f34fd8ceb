import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { authenticateRequest, createVerifier, type Verifier } from '@tessera/verify';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { BENCH_ISSUER } from './cluster.ts';
import { bestOfInterleaved, createBenchTokenSigner, operationsPerSecond } from './verify-fixtures.ts';

/** Requests per second through `authenticateRequest`, Bearer and DPoP side by side. */
export interface VerifyDpopResult {
  /** Bearer tokens, verified-token cache warm: no signature check per request. */
  bearerWarmOps: number;
  /** Bearer tokens, no cache: one token signature check per request. */
  bearerColdOps: number;
  /** DPoP-bound tokens, cache warm: the token from memory, one proof signature check per request. */
  dpopWarmOps: number;
  /** DPoP-bound tokens, no cache: the token's and the proof's signatures per request. */
  dpopColdOps: number;
  /** Proofs signed ahead (each used once: the verifier refuses a replay). */
  proofs: number;
}

const URL_ = 'https://api.bench/orders';

/** Requests from `next` through `authenticateRequest`, each of which must be accepted. */
function authenticated(verifier: Verifier, next: () => Request | null) {
  return (): Promise<void> | null => {
    const request = next();
    if (request === null) return null;
    return authenticateRequest(verifier, request).then((outcome) => {
      if (outcome.refusal) throw new Error(`refused: ${outcome.refusal.body.error_description}`);
    });
  };
}

/**
 * The cost of DPoP at a resource service: the same verifier answers Bearer requests and DPoP requests
 * (a fresh proof each, signed ahead by an Ed25519 key as `@tessera/client` makes in Chromium), with and
 * without the verified-token cache. Interleaved rounds, best of each.
 */
export async function measureVerifyDpop(options: {
  seconds: number;
  tokens: number;
  proofs: number;
}): Promise<VerifyDpopResult> {
  const signer = await createBenchTokenSigner();
  const { jwk } = signer;
  const client = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const clientJwk = await exportJWK(client.publicKey);
  const jkt = await calculateJwkThumbprint(clientJwk);
  const [bearer, bound] = await Promise.all([
    signer.mint(options.tokens),
    signer.mint(options.tokens, { cnf: { jkt } }),
  ]);
  const proofs = await Promise.all(
    Array.from({ length: options.proofs }, (_, i) =>
      new SignJWT({
        htm: 'GET',
        htu: URL_,
        ath: createHash('sha256')
          .update(bound[i % bound.length] as string)
          .digest('base64url'),
      })
        .setProtectedHeader({ alg: 'EdDSA', typ: 'dpop+jwt', jwk: clientJwk })
        .setIssuedAt()
        .setJti(randomUUID())
        .sign(client.privateKey),
    ),
  );
  const server: Server = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks.json`;
  const make = (tokenCacheSize: number) =>
    createVerifier({
      issuer: BENCH_ISSUER,
      audience: BENCH_ISSUER,
      jwksUrl,
      feed: false,
      tokenCacheSize,
      dpopReplayCacheSize: options.proofs + 1,
    });
  const warm = make(options.tokens * 4);
  const cold = make(0);
  let nextProof = 0;
  const bearerRequests = (tokens: string[]) => {
    let i = 0;
    return () => new Request(URL_, { headers: { authorization: `Bearer ${tokens[i++ % tokens.length]}` } });
  };
  // Proof i goes with token i (its `ath`); the pool is shared by the warm and cold runs.
  const dpopRequests = () => () => {
    const i = nextProof;
    if (i >= proofs.length) return null;
    nextProof += 1;
    return new Request(URL_, {
      headers: { authorization: `DPoP ${bound[i % bound.length]}`, dpop: proofs[i] as string },
    });
  };
  try {
    await Promise.all([warm.ready(), cold.ready()]);
    for (const token of [...bearer, ...bound]) await warm.verify(token);
    const slice = options.seconds / 4;
    const best = await bestOfInterleaved(2, {
      bearerWarm: () => operationsPerSecond(slice, authenticated(warm, bearerRequests(bearer))),
      dpopWarm: () => operationsPerSecond(slice, authenticated(warm, dpopRequests())),
      bearerCold: () => operationsPerSecond(slice, authenticated(cold, bearerRequests(bearer))),
      dpopCold: () => operationsPerSecond(slice, authenticated(cold, dpopRequests())),
    });
    return {
      bearerWarmOps: best.bearerWarm,
      bearerColdOps: best.bearerCold,
      dpopWarmOps: best.dpopWarm,
      dpopColdOps: best.dpopCold,
      proofs: nextProof,
    };
  } finally {
    await warm.close();
    await cold.close();
    server.closeAllConnections();
    server.close();
  }
}
