import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createVerifier } from '@tessera/verify';
import { jwtVerify } from 'jose';
import { BENCH_ISSUER } from './cluster.ts';
import { bestOfInterleaved, createBenchTokenSigner, operationsPerSecond } from './verify-fixtures.ts';

/** Operations per second of one verification method over a fixed set of tokens. */
export interface VerifyResult {
  joseOps: number;
  coldOps: number;
  warmOps: number;
  revocations: number;
}

/** Calls `verify` on `tokens` round robin. */
function eachToken(tokens: readonly string[], verify: (token: string) => Promise<unknown>) {
  let index = 0;
  return (): Promise<unknown> => verify(tokens[index++ % tokens.length] as string);
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
  const signer = await createBenchTokenSigner();
  const { publicKey, jwk } = signer;
  const tokens = await signer.mint(options.tokens);
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
      issuer: BENCH_ISSUER,
      audience: BENCH_ISSUER,
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
    const verifyOptions = {
      algorithms: ['EdDSA'],
      typ: 'at+jwt',
      issuer: BENCH_ISSUER,
      audience: BENCH_ISSUER,
    };
    // Interleaved so machine noise hits the three alike; the best of each.
    const seconds = options.seconds / 2;
    const results = await bestOfInterleaved(2, {
      jose: () =>
        operationsPerSecond(
          seconds,
          eachToken(tokens, (t) => jwtVerify(t, publicKey, verifyOptions)),
        ),
      cold: () =>
        operationsPerSecond(
          seconds,
          eachToken(tokens, (t) => cold.verify(t)),
        ),
      warm: () =>
        operationsPerSecond(
          seconds,
          eachToken(tokens, (t) => warm.verify(t)),
        ),
    });
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
