import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createManualClock } from '@tessera/core';
import { authenticateRequest, createVerifier, type Verifier } from '@tessera/verify';
import fc from 'fast-check';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { listen as express } from '../examples/verify-express/server.ts';
import { listen as fastify } from '../examples/verify-fastify/server.ts';
import { listen as hono } from '../examples/verify-hono/server.ts';
import { listen as koa } from '../examples/verify-koa/server.ts';
import { listen as nestjs } from '../examples/verify-nestjs/server.ts';

// A resource service's view of DPoP (RFC 9449 §7): real access tokens signed by a key served from a
// loopback JWKS, real proofs signed by client keys (jose), and @tessera/verify on the web-standard
// path and behind every framework adapter over loopback HTTP.

const ISSUER = 'https://issuer.test';
const clock = createManualClock(Date.now());
const nowSeconds = () => Math.floor(clock.now() / 1000);
let jwksServer: Server;
let jwksUrl: string;
let signingKey: CryptoKey;

interface ClientKey {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

async function clientKey(alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<ClientKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

/** An access token as Tessera mints it; bound to `key` when given (`cnf.jkt`, RFC 9449 §6.1). */
function accessToken(key?: ClientKey, claims: JWTPayload = {}): Promise<string> {
  return new SignJWT({
    sub: 'u1',
    sid: 's1',
    ver: 1,
    jti: randomUUID(),
    iat: nowSeconds(),
    exp: nowSeconds() + 600,
    ...(key ? { cnf: { jkt: key.jkt } } : {}),
    ...claims,
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(ISSUER)
    .sign(signingKey);
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

/** A DPoP proof (RFC 9449 §4.2) by `key`; `claims` override the defaults, `undefined` drops one. */
function proof(
  key: ClientKey,
  htm: string,
  htu: string,
  token: string | null,
  claims: Record<string, unknown> = {},
): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: randomUUID(),
    htm,
    htu,
    iat: nowSeconds(),
    ...(token ? { ath: ath(token) } : {}),
    ...claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  const alg = (claims.alg as string | undefined) ?? (key.jwk.kty === 'OKP' ? 'EdDSA' : 'ES256');
  delete payload.alg;
  return new SignJWT(payload).setProtectedHeader({ typ: 'dpop+jwt', alg, jwk: key.jwk }).sign(key.privateKey);
}

function makeVerifier(extra: Parameters<typeof createVerifier>[0] extends infer O ? Partial<O> : never = {}) {
  return createVerifier({
    issuer: ISSUER,
    audience: ISSUER,
    jwksUrl,
    feed: false,
    now: () => clock.now(),
    ...extra,
  });
}

before(async () => {
  const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  signingKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' };
  jwksServer = createServer((_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`;
});
after(async () => {
  jwksServer.closeAllConnections();
  await new Promise((resolve) => jwksServer.close(resolve));
});

describe('@tessera/verify with DPoP-bound tokens (web-standard path)', () => {
  const URL_ = 'https://api.example.com/orders';
  let verifier: Verifier;
  let alice: ClientKey;
  let mallory: ClientKey;
  before(async () => {
    verifier = makeVerifier();
    await verifier.ready();
    alice = await clientKey();
    mallory = await clientKey('EdDSA');
  });
  after(() => verifier.close());

  const request = (
    token: string,
    dpop: string | string[] | null,
    init: { method?: string; url?: string } = {},
  ) => {
    const headers = new Headers({ authorization: `DPoP ${token}` });
    for (const value of dpop === null ? [] : [dpop].flat()) headers.append('dpop', value);
    return new Request(init.url ?? `${URL_}?page=2`, { method: init.method ?? 'GET', headers });
  };

  it('accepts a fresh proof by the bound key for this method, URL and token, on every request, with the token verified once', async () => {
    const token = await accessToken(alice);
    for (let i = 0; i < 3; i += 1) {
      const outcome = await authenticateRequest(
        verifier,
        request(token, await proof(alice, 'GET', URL_, token)),
      );
      assert.equal(outcome.refusal, undefined, JSON.stringify(outcome.refusal));
      assert.equal(outcome.claims?.sub, 'u1');
    }
    assert.equal(verifier.status().cachedTokens, 1, 'the token itself sits in the verified-token cache');
    assert.equal(verifier.status().dpopProofIds, 3, 'each proof was checked and remembered');
    // A cached token still needs its proof.
    const bare = await authenticateRequest(verifier, request(token, null));
    assert.equal(bare.refusal?.body.error, 'invalid_dpop_proof');
  });

  it('refuses each bad proof with invalid_dpop_proof in a DPoP challenge, and a refused proof is not remembered', async () => {
    const token = await accessToken(alice);
    const other = await accessToken(alice);
    const cases: Array<[string, () => Promise<Request>, RegExp]> = [
      ['no proof', async () => request(token, null), /proof is required/],
      ['not a JWS', async () => request(token, 'not-a-jws'), /compact JWS/],
      [
        'two proofs',
        async () =>
          request(token, [await proof(alice, 'GET', URL_, token), await proof(alice, 'GET', URL_, token)]),
        /compact JWS/,
      ],
      ['another method', async () => request(token, await proof(alice, 'POST', URL_, token)), /htm/],
      ['another URL', async () => request(token, await proof(alice, 'GET', `${URL_}/7`, token)), /htu/],
      [
        'another host',
        async () => request(token, await proof(alice, 'GET', 'https://evil.example/orders', token)),
        /htu/,
      ],
      ['another key', async () => request(token, await proof(mallory, 'GET', URL_, token)), /another key/],
      [
        'a stale iat',
        async () => request(token, await proof(alice, 'GET', URL_, token, { iat: nowSeconds() - 61 })),
        /iat/,
      ],
      [
        'an iat ahead',
        async () => request(token, await proof(alice, 'GET', URL_, token, { iat: nowSeconds() + 30 })),
        /iat/,
      ],
      ['the ath of another token', async () => request(token, await proof(alice, 'GET', URL_, other)), /ath/],
      ['no ath', async () => request(token, await proof(alice, 'GET', URL_, null)), /ath/],
      [
        'no jti',
        async () => request(token, await proof(alice, 'GET', URL_, token, { jti: undefined })),
        /jti/,
      ],
      [
        'a forged signature',
        async () => {
          const real = await proof(alice, 'GET', URL_, token);
          const forged = await proof(mallory, 'GET', URL_, token);
          const [h, p] = real.split('.');
          return request(token, `${h}.${p}.${forged.split('.')[2]}`);
        },
        /signature/,
      ],
      [
        'a typ other than dpop+jwt',
        async () =>
          request(
            token,
            await new SignJWT({
              jti: randomUUID(),
              htm: 'GET',
              htu: URL_,
              iat: nowSeconds(),
              ath: ath(token),
            })
              .setProtectedHeader({ typ: 'JWT', alg: 'ES256', jwk: alice.jwk })
              .sign(alice.privateKey),
          ),
        /typ/,
      ],
    ];
    for (const [what, make, reason] of cases) {
      const before = verifier.status().dpopProofIds;
      const { refusal } = await authenticateRequest(verifier, await make(), { realm: 'orders' });
      assert.equal(refusal?.status, 401, what);
      assert.equal(refusal?.body.error, 'invalid_dpop_proof', what);
      assert.match(refusal?.body.error_description ?? '', reason, what);
      assert.match(
        refusal?.headers['www-authenticate'] ?? '',
        /^DPoP realm="orders", error="invalid_dpop_proof", error_description="[^"]+", algs="ES256 EdDSA Ed25519 RS256"$/,
        what,
      );
      assert.equal(verifier.status().dpopProofIds, before, `${what}: nothing remembered`);
    }
  });

  it('takes an Ed25519 key’s proof under either name, EdDSA or RFC 9864’s Ed25519', async () => {
    const token = await accessToken(mallory);
    for (const alg of ['EdDSA', 'Ed25519']) {
      const outcome = await authenticateRequest(
        verifier,
        request(token, await proof(mallory, 'GET', URL_, token, { alg })),
      );
      assert.equal(outcome.refusal, undefined, `${alg}: ${JSON.stringify(outcome.refusal?.body)}`);
    }
  });

  it('refuses a replayed proof, until well after the proof window', async () => {
    const token = await accessToken(alice);
    const once = await proof(alice, 'GET', URL_, token);
    assert.ok((await authenticateRequest(verifier, request(token, once))).claims);
    const replay = await authenticateRequest(verifier, request(token, once));
    assert.equal(replay.refusal?.body.error, 'invalid_dpop_proof');
    assert.match(replay.refusal?.body.error_description ?? '', /used before/);
    clock.advance(59_000);
    assert.match(
      (await authenticateRequest(verifier, request(token, once))).refusal?.body.error_description ?? '',
      /used before/,
    );
    clock.advance(2_000);
    assert.match(
      (await authenticateRequest(verifier, request(token, once))).refusal?.body.error_description ?? '',
      /iat/,
    );
  });

  it('refuses a bound token sent as Bearer, and an unbound token sent as DPoP, with invalid_token', async () => {
    const bound = await accessToken(alice);
    const asBearer = await authenticateRequest(
      verifier,
      new Request(URL_, { headers: { authorization: `Bearer ${bound}` } }),
    );
    assert.equal(asBearer.refusal?.status, 401);
    assert.equal(asBearer.refusal?.body.error, 'invalid_token');
    assert.match(
      asBearer.refusal?.headers['www-authenticate'] ?? '',
      /^DPoP realm="api", error="invalid_token", .*algs=/,
    );
    const plain = await accessToken();
    const asDpop = await authenticateRequest(
      verifier,
      request(plain, await proof(alice, 'GET', URL_, plain)),
    );
    assert.equal(asDpop.refusal?.body.error, 'invalid_token');
    assert.match(asDpop.refusal?.body.error_description ?? '', /not DPoP-bound/);
    const ok = await authenticateRequest(
      verifier,
      new Request(URL_, { headers: { authorization: `Bearer ${plain}` } }),
    );
    assert.equal(ok.claims?.sub, 'u1', 'unbound tokens still work as Bearer');
  });

  it('offers both schemes when no token is sent, and answers 400 for a malformed DPoP header', async () => {
    const none = await authenticateRequest(verifier, new Request(URL_));
    assert.equal(
      none.refusal?.headers['www-authenticate'],
      'Bearer realm="api", DPoP realm="api", algs="ES256 EdDSA Ed25519 RS256"',
    );
    const malformed = await authenticateRequest(
      verifier,
      new Request(URL_, { headers: { authorization: 'DPoP a b' } }),
    );
    assert.equal(malformed.refusal?.status, 400);
    assert.match(
      malformed.refusal?.headers['www-authenticate'] ?? '',
      /^DPoP realm="api", error="invalid_request"/,
    );
  });
});

describe('@tessera/verify: the URL a proof names, behind proxies', () => {
  let alice: ClientKey;
  before(async () => {
    alice = await clientKey();
  });

  /** A request as a Node framework sees it behind a proxy: path only, the proxy's headers. */
  const behindProxy = async (verifier: Verifier, htu: string, headers: Record<string, string> = {}) => {
    const token = await accessToken(alice);
    return authenticateRequest(verifier, {
      method: 'GET',
      url: '/orders?x=1',
      headers: {
        host: '10.0.0.5:8080',
        authorization: `DPoP ${token}`,
        dpop: await proof(alice, 'GET', htu, token),
        ...headers,
      },
    });
  };

  it('by default, the request’s own scheme and Host', async () => {
    const verifier = makeVerifier();
    assert.ok((await behindProxy(verifier, 'http://10.0.0.5:8080/orders')).claims);
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' };
    assert.match(
      (await behindProxy(verifier, 'https://api.example.com/orders', forwarded)).refusal?.body
        .error_description ?? '',
      /htu/,
      'forwarded headers are not trusted unless configured',
    );
    await verifier.close();
  });

  it('with publicUrl, that URL (and its path prefix) followed by the request path', async () => {
    const verifier = makeVerifier({ publicUrl: 'https://example.com/api/' });
    assert.ok((await behindProxy(verifier, 'https://example.com/api/orders')).claims);
    assert.ok(
      (await behindProxy(verifier, 'https://EXAMPLE.com:443/api/orders')).claims,
      'RFC 3986 normalization',
    );
    assert.ok((await behindProxy(verifier, 'http://10.0.0.5:8080/orders')).refusal);
    await verifier.close();
  });

  it('with trustForwardedHeaders, Forwarded first, then X-Forwarded-Proto / -Host (first hop)', async () => {
    const verifier = makeVerifier({ trustForwardedHeaders: true });
    assert.ok(
      (
        await behindProxy(verifier, 'https://api.example.com/orders', {
          'x-forwarded-proto': 'https, http',
          'x-forwarded-host': 'api.example.com, 10.0.0.1',
        })
      ).claims,
    );
    assert.ok(
      (
        await behindProxy(verifier, 'https://shop.example/orders', {
          forwarded: 'for=1.2.3.4;proto=https;host="shop.example", for=10.0.0.1',
          'x-forwarded-host': 'ignored.example',
        })
      ).claims,
    );
    await verifier.close();
  });

  it('refuses bad options naming them', () => {
    assert.throws(() => makeVerifier({ publicUrl: 'ftp://x' }), /publicUrl/);
    assert.throws(() => makeVerifier({ publicUrl: 'https://x/?a=1' }), /publicUrl/);
    assert.throws(() => makeVerifier({ trustForwardedHeaders: 'yes' as never }), /trustForwardedHeaders/);
    assert.throws(() => makeVerifier({ dpopProofMaxAgeSeconds: 0 }), /dpopProofMaxAgeSeconds/);
    assert.throws(() => makeVerifier({ dpopReplayCacheSize: 0 }), /dpopReplayCacheSize/);
  });
});

describe('@tessera/verify DPoP behind every framework adapter (loopback HTTP)', () => {
  const FRAMEWORKS = { express, koa, fastify, nestjs, hono };
  let verifier: Verifier;
  let alice: ClientKey;
  const servers: Server[] = [];
  before(async () => {
    verifier = makeVerifier();
    await verifier.ready();
    alice = await clientKey();
  });
  after(async () => {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    await verifier.close();
  });

  for (const [framework, listen] of Object.entries(FRAMEWORKS)) {
    it(`${framework}: accepts a DPoP request, refuses a replay, a wrong URL and the token as Bearer, with DPoP challenges`, async () => {
      const server = await listen(verifier, 0);
      servers.push(server);
      const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const token = await accessToken(alice);
      const send = (headers: Record<string, string>) => fetch(`${base}/me?x=1`, { headers });
      const good = await proof(alice, 'GET', `${base}/me`, token);
      const accepted = await send({ authorization: `DPoP ${token}`, dpop: good });
      assert.equal(accepted.status, 200, await accepted.clone().text());
      assert.equal(
        ((await accepted.json()) as { claims: { cnf: { jkt: string } } }).claims.cnf.jkt,
        alice.jkt,
      );
      const replayed = await send({ authorization: `DPoP ${token}`, dpop: good });
      assert.equal(replayed.status, 401);
      assert.match(
        replayed.headers.get('www-authenticate') ?? '',
        /^DPoP realm="api", error="invalid_dpop_proof", error_description="The DPoP proof was used before\."/,
      );
      assert.equal(((await replayed.json()) as { error: string }).error, 'invalid_dpop_proof');
      const elsewhere = await send({
        authorization: `DPoP ${token}`,
        dpop: await proof(alice, 'GET', `${base}/other`, token),
      });
      assert.equal(elsewhere.status, 401);
      assert.match(elsewhere.headers.get('www-authenticate') ?? '', /error="invalid_dpop_proof".*htu/);
      const bearer = await send({ authorization: `Bearer ${token}` });
      assert.equal(bearer.status, 401);
      assert.match(bearer.headers.get('www-authenticate') ?? '', /^DPoP realm="api", error="invalid_token"/);
    });
  }
});

describe('@tessera/verify DPoP under hostile headers (property)', () => {
  it('never throws, answers 400 or 401 with a header-safe DPoP or Bearer challenge, and remembers no refused proof', async () => {
    const verifier = makeVerifier();
    await verifier.ready();
    const alice = await clientKey();
    const token = await accessToken(alice);
    const good = await proof(alice, 'GET', 'https://api.example.com/x', token);
    const [h, p, sig] = good.split('.') as [string, string, string];
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    // Pieces of a real proof mixed with garbage: headers and payloads a forger would try.
    const segment = fc.oneof(
      fc.constantFrom(h, p, sig, '', 'e30', b64({ typ: 'dpop+jwt', alg: 'none' })),
      fc.json().map((json) => Buffer.from(json).toString('base64url')),
      fc
        .record({
          typ: fc.constantFrom('dpop+jwt', 'JWT'),
          alg: fc.constantFrom('ES256', 'EdDSA', 'HS256', 'none'),
          jwk: fc.oneof(fc.anything(), fc.constant(alice.jwk), fc.constant({ ...alice.jwk, d: 'x' })),
        })
        .map(b64),
      fc.string(),
    );
    const dpopHeader = fc.oneof(
      fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
      fc.string({ maxLength: 200 }),
      fc.constant(good),
    );
    const authorization = fc.oneof(
      fc.constant(`DPoP ${token}`),
      fc.constant(`Bearer ${token}`),
      fc.string({ maxLength: 100 }).map((rest) => `DPoP ${rest}`),
      fc.string({ maxLength: 100 }),
    );
    const method = fc.constantFrom('GET', 'POST', 'get', 'DELETE');
    const url = fc.constantFrom(
      'https://api.example.com/x',
      'https://api.example.com/x?y=1',
      'http://api.example.com/x',
      'https://api.example.com/%2e%2e/x',
    );
    let reached = 0;
    await fc.assert(
      fc.asyncProperty(
        authorization,
        fc.option(dpopHeader, { nil: null }),
        method,
        url,
        async (auth, dpop, m, u) => {
          const before = verifier.status().dpopProofIds;
          const headers: Record<string, string> = { authorization: auth };
          if (dpop !== null) headers.dpop = dpop;
          let request: Request;
          try {
            request = new Request(u, { method: m, headers });
          } catch {
            return; // a header value no HTTP stack would deliver (CR, LF, non-Latin-1)
          }
          reached += 1;
          const outcome = await authenticateRequest(verifier, request);
          if (outcome.claims) {
            assert.equal(dpop, good, 'only the real proof passes');
            return;
          }
          assert.ok([400, 401].includes(outcome.refusal.status), String(outcome.refusal.status));
          const challenge = outcome.refusal.headers['www-authenticate'] ?? '';
          assert.match(challenge, /^(Bearer|DPoP) /);
          assert.doesNotMatch(challenge, /[\r\n]/);
          assert.ok(
            !challenge.includes(token) && !JSON.stringify(outcome.refusal.body).includes(token),
            'no token echoed',
          );
          assert.equal(verifier.status().dpopProofIds, before, 'a refused request remembers nothing');
        },
      ),
      { numRuns: 300 },
    );
    assert.ok(reached > 200, `${reached} of 300 runs reached the verifier`);
    await verifier.close();
  });
});
