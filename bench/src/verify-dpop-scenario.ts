import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { authenticateRequest, createVerifier, type Verifier } from '@tessera/verify';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';

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

const ISSUER = 'http://tessera.bench';
const URL_ = 'https://api.bench/orders';

/** Runs batches of 64 concurrent requests from `next` until `seconds` pass or `next` runs dry. */
async function opsPerSecond(
  seconds: number,
  next: () => Request | null,
  verifier: Verifier,
): Promise<number> {
  let done = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    const batch: Array<Promise<unknown>> = [];
    for (let k = 0; k < 64; k += 1) {
      const request = next();
      if (request === null) break;
      batch.push(
        authenticateRequest(verifier, request).then((outcome) => {
          if (outcome.refusal) throw new Error(`refused: ${outcome.refusal.body.error_description}`);
        }),
      );
    }
    if (batch.length === 0) break;
    await Promise.all(batch);
    done += batch.length;
  }
  return done / ((performance.now() - started) / 1000);
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
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const kid = 'bench-key';
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  const client = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const clientJwk = await exportJWK(client.publicKey);
  const jkt = await calculateJwkThumbprint(clientJwk);
  const nowS = Math.floor(Date.now() / 1000);
  const mint = (bound: boolean) =>
    Promise.all(
      Array.from({ length: options.tokens }, (_, i) =>
        new SignJWT({
          sid: randomBytes(16).toString('base64url'),
          ver: 1,
          client_id: 'tessera',
          roles: [],
          ...(bound ? { cnf: { jkt } } : {}),
        })
          .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid })
          .setIssuer(ISSUER)
          .setSubject(`user-${i}`)
          .setAudience(ISSUER)
          .setIssuedAt(nowS)
          .setExpirationTime(nowS + 600)
          .setJti(randomBytes(16).toString('base64url'))
          .sign(privateKey),
      ),
    );
  const [bearer, bound] = await Promise.all([mint(false), mint(true)]);
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
      issuer: ISSUER,
      audience: ISSUER,
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
    const best = { bearerWarm: 0, bearerCold: 0, dpopWarm: 0, dpopCold: 0 };
    const slice = options.seconds / 4;
    for (let round = 0; round < 2; round += 1) {
      best.bearerWarm = Math.max(best.bearerWarm, await opsPerSecond(slice, bearerRequests(bearer), warm));
      best.dpopWarm = Math.max(best.dpopWarm, await opsPerSecond(slice, dpopRequests(), warm));
      best.bearerCold = Math.max(best.bearerCold, await opsPerSecond(slice, bearerRequests(bearer), cold));
      best.dpopCold = Math.max(best.dpopCold, await opsPerSecond(slice, dpopRequests(), cold));
    }
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
