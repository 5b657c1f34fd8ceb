import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createVerifier } from '@tessera/verify';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';

/** Operations per second of one verification method over a fixed set of tokens. */
export interface VerifyResult {
  joseOps: number;
  coldOps: number;
  warmOps: number;
  revocations: number;
}

const ISSUER = 'http://tessera.bench';

async function opsPerSecond(
  seconds: number,
  tokens: string[],
  verify: (token: string) => Promise<unknown>,
): Promise<number> {
  let done = 0;
  let index = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  while (performance.now() < deadline) {
    // Batches of 64 concurrent verifications, like a busy service.
    const batch: Array<Promise<unknown>> = [];
    for (let k = 0; k < 64; k += 1) {
      batch.push(verify(tokens[index] as string));
      index = (index + 1) % tokens.length;
    }
    await Promise.all(batch);
    done += 64;
  }
  return done / ((performance.now() - started) / 1000);
}

/**
 * Verifier speed, in one process, with `revocationCount` live revocations loaded from a feed snapshot
 * served on loopback: raw `jose.jwtVerify` vs the verifier with no token cache (every call checks the
 * signature) vs the verifier with a warm cache (a repeated token skips it; revocations still apply).
 */
export async function measureVerify(options: {
  seconds: number;
  revocationCount: number;
  tokens: number;
}): Promise<VerifyResult> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const kid = 'bench-key';
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  const nowS = Math.floor(Date.now() / 1000);
  const tokens = await Promise.all(
    Array.from({ length: options.tokens }, (_, i) =>
      new SignJWT({ sid: randomBytes(16).toString('base64url'), ver: 1, client_id: 'tessera', roles: [] })
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
  const revocations = Array.from({ length: options.revocationCount }, () => ({
    type: 'session',
    sid: randomBytes(16).toString('base64url'),
    sub: 'someone',
    at_ms: Date.now(),
    until_ms: Date.now() + 600_000,
  }));
  const snapshot = JSON.stringify({ cursor: `${Date.now()}-0`, generated_at_ms: Date.now(), revocations });
  const server: Server = createServer((req, res) => {
    if (req.url === '/.well-known/jwks.json') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [jwk] }));
    } else if (req.url === '/auth/revocations') {
      res.setHeader('content-type', 'application/json');
      res.end(snapshot);
    } else if (req.url?.startsWith('/auth/revocations/stream')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: heartbeat\ndata: {}\n\n');
      const timer = setInterval(() => res.write('event: heartbeat\ndata: {}\n\n'), 1000);
      res.on('close', () => clearInterval(timer));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const make = (cacheSize: number) =>
    createVerifier({
      issuer: ISSUER,
      audience: ISSUER,
      jwksUrl: `${base}/.well-known/jwks.json`,
      revocationsUrl: `${base}/auth/revocations`,
      tokenCacheSize: cacheSize,
    });
  const cold = make(0);
  const warm = make(options.tokens * 2);
  try {
    await cold.ready();
    await warm.ready();
    if (cold.status().revocations !== options.revocationCount) throw new Error('revocations not loaded');
    for (const token of tokens) await warm.verify(token);
    const verifyOptions = { algorithms: ['EdDSA'], typ: 'at+jwt', issuer: ISSUER, audience: ISSUER };
    // Interleave the three so machine noise hits them alike; keep the best of each.
    const results = { jose: 0, cold: 0, warm: 0 };
    for (let round = 0; round < 2; round += 1) {
      results.jose = Math.max(
        results.jose,
        await opsPerSecond(options.seconds / 2, tokens, (t) => jwtVerify(t, publicKey, verifyOptions)),
      );
      results.cold = Math.max(
        results.cold,
        await opsPerSecond(options.seconds / 2, tokens, (t) => cold.verify(t)),
      );
      results.warm = Math.max(
        results.warm,
        await opsPerSecond(options.seconds / 2, tokens, (t) => warm.verify(t)),
      );
    }
    return {
      joseOps: results.jose,
      coldOps: results.cold,
      warmOps: results.warm,
      revocations: options.revocationCount,
    };
  } finally {
    await cold.close();
    await warm.close();
    server.closeAllConnections();
    server.close();
  }
}
