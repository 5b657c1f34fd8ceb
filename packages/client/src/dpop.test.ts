import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { calculateJwkThumbprint, EmbeddedJWK, type JWK, jwtVerify } from 'jose';
import { createTesseraClient } from './create-client.ts';
import { createDpop } from './dpop.ts';

const NOW_MS = Date.UTC(2030, 0, 1);

/** Verifies a proof the way a server does (signature by the embedded key) and returns its parts. */
async function readProof(proof: string | null) {
  assert.ok(proof, 'a DPoP header was sent');
  const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, {
    typ: 'dpop+jwt',
    algorithms: ['ES256', 'EdDSA'],
    currentDate: new Date(NOW_MS),
  });
  const jwk = protectedHeader.jwk as JWK;
  return { payload, header: protectedHeader, jkt: await calculateJwkThumbprint(jwk) };
}

const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

interface Seen {
  url: string;
  method: string;
  headers: Headers;
}

/** A recording `fetch` that answers each call with `answer(call number, request)`. */
function recorder(answer: (n: number, seen: Seen) => Response) {
  const seen: Seen[] = [];
  const http = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const call = { url: String(input), method: init?.method ?? 'GET', headers: new Headers(init?.headers) };
    seen.push(call);
    return answer(seen.length, call);
  };
  return { http, seen };
}

const es256 = () =>
  crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);

describe('createDpop', () => {
  it('signs a proof a JOSE library verifies: typ, alg, public jwk only, htm, htu without query, iat, unique jti, ath', async () => {
    const { http, seen } = recorder(() => new Response('{}'));
    const dpop = createDpop({ now: () => NOW_MS + 999 });
    await dpop.send(
      http,
      'https://api.example.com/orders/7?page=2#top',
      { method: 'post' },
      'access.token.x',
    );
    await dpop.send(http, 'https://api.example.com/orders/7', {});
    const [first, second] = seen;
    assert.ok(first && second);
    assert.equal(first.headers.get('authorization'), 'DPoP access.token.x');
    const one = await readProof(first.headers.get('dpop'));
    // Node has Ed25519 in WebCrypto: the default key is one.
    assert.equal(one.header.alg, 'EdDSA');
    assert.deepEqual(Object.keys(one.header.jwk ?? {}).sort(), ['crv', 'kty', 'x']);
    assert.equal(one.payload.htm, 'POST');
    assert.equal(one.payload.htu, 'https://api.example.com/orders/7');
    assert.equal(one.payload.iat, Math.floor(NOW_MS / 1000));
    assert.equal(one.payload.ath, ath('access.token.x'));
    assert.equal(one.payload.nonce, undefined);
    assert.match(String(one.payload.jti), /^[0-9a-f-]{36}$/);
    const two = await readProof(second.headers.get('dpop'));
    assert.equal(second.headers.get('authorization'), null, 'no token: no Authorization header');
    assert.equal(two.payload.htm, 'GET');
    assert.equal(two.payload.ath, undefined);
    assert.notEqual(two.payload.jti, one.payload.jti);
    assert.equal(two.jkt, one.jkt, 'one key for every proof');
  });

  it('signs ES256 with a P-256 pair, whose raw r||s signature is what JWS wants', async () => {
    const pair = await es256();
    const { http, seen } = recorder(() => new Response('{}'));
    await createDpop({ keyPair: async () => pair, now: () => NOW_MS }).send(
      http,
      'https://a.example/x',
      {},
      't',
    );
    const proof = await readProof(seen[0]?.headers.get('dpop') ?? null);
    assert.equal(proof.header.alg, 'ES256');
    assert.deepEqual(Object.keys(proof.header.jwk ?? {}).sort(), ['crv', 'kty', 'x', 'y']);
    assert.equal(
      proof.jkt,
      await calculateJwkThumbprint((await crypto.subtle.exportKey('jwk', pair.publicKey)) as JWK),
    );
  });

  it('retries once with the nonce after use_dpop_nonce (a token route’s 400, a resource’s 401), and remembers it per origin', async () => {
    const { http, seen } = recorder((n, call) => {
      if (call.url.includes('/token') && n === 1)
        return Response.json({ error: 'use_dpop_nonce' }, { status: 400, headers: { 'dpop-nonce': 'n1' } });
      if (call.url.includes('/api') && n === 3)
        return new Response('', {
          status: 401,
          headers: { 'www-authenticate': 'DPoP error="use_dpop_nonce"', 'dpop-nonce': 'n2' },
        });
      return Response.json({ ok: true });
    });
    const dpop = createDpop({ now: () => NOW_MS });
    const token = await dpop.send(http, 'https://as.example/token', { method: 'POST', body: 'x' });
    assert.equal(token.status, 200);
    const api = await dpop.send(http, 'https://as.example/api', {}, 'tok');
    assert.equal(api.status, 200);
    const other = await dpop.send(http, 'https://other.example/api', {});
    assert.equal(other.status, 200);
    const nonces = await Promise.all(
      seen.map(async (s) => (await readProof(s.headers.get('dpop'))).payload.nonce),
    );
    assert.deepEqual(nonces, [undefined, 'n1', 'n1', 'n2', undefined]);
  });

  it('retries only once, and not for other errors', async () => {
    let nonce = 0;
    const { http, seen } = recorder(() => {
      nonce += 1;
      return Response.json(
        { error: 'use_dpop_nonce' },
        { status: 400, headers: { 'dpop-nonce': `n${nonce}` } },
      );
    });
    const dpop = createDpop({ now: () => NOW_MS });
    assert.equal((await dpop.send(http, 'https://as.example/token', { method: 'POST' })).status, 400);
    assert.equal(seen.length, 2);
    const grant = recorder(() =>
      Response.json({ error: 'invalid_grant' }, { status: 400, headers: { 'dpop-nonce': 'fresh' } }),
    );
    const response = await dpop.send(grant.http, 'https://as.example/token', { method: 'POST' });
    assert.equal(grant.seen.length, 1);
    assert.equal(
      ((await response.json()) as { error: string }).error,
      'invalid_grant',
      'the body is still readable',
    );
  });
});

describe('createTesseraClient({ dpop: true })', () => {
  /** A fake Tessera: binds when a proof comes with the token request, as the server does. */
  function fakeTessera() {
    let issued = 0;
    return recorder((_n, call) => {
      if (call.url.includes('/auth/')) {
        issued += 1;
        const bound = call.headers.has('dpop');
        return Response.json({
          token_type: bound ? 'DPoP' : 'Bearer',
          access_token: `a${issued}`,
          expires_in: 600,
          refresh_token: `tsr_${issued}`,
        });
      }
      return Response.json({ ok: true });
    });
  }

  it('proves possession on login, refresh and fetch, with one key, and sends the bound token as DPoP', async () => {
    const server = fakeTessera();
    const client = createTesseraClient({
      baseUrl: 'http://127.0.0.1:9',
      transport: 'body',
      fetch: server.http as typeof fetch,
      dpop: { now: () => NOW_MS },
    });
    await client.login('a@example.com', 'pw-123456');
    assert.equal(await client.refresh(), true);
    const response = await client.fetch('http://127.0.0.1:8/api/orders?x=1', { method: 'DELETE' });
    assert.equal(response.status, 200);
    const [login, refresh, api] = server.seen;
    assert.ok(login && refresh && api);
    const proofs = await Promise.all([login, refresh, api].map((s) => readProof(s.headers.get('dpop'))));
    assert.deepEqual(
      proofs.map((p) => [p.payload.htm, p.payload.htu, p.payload.ath]),
      [
        ['POST', 'http://127.0.0.1:9/auth/login', undefined],
        ['POST', 'http://127.0.0.1:9/auth/refresh', undefined],
        ['DELETE', 'http://127.0.0.1:8/api/orders', ath('a2')],
      ],
    );
    assert.equal(new Set(proofs.map((p) => p.jkt)).size, 1);
    assert.equal(login.headers.get('authorization'), null);
    assert.equal(api.headers.get('authorization'), 'DPoP a2');
    client.close();
  });

  it('sends a Bearer token as Bearer, without a proof, when the server did not bind the session', async () => {
    const server = recorder((_n, call) =>
      call.url.includes('/auth/')
        ? Response.json({
            token_type: 'Bearer',
            access_token: 'plain',
            expires_in: 600,
            refresh_token: 'tsr_1',
          })
        : Response.json({}),
    );
    const client = createTesseraClient({
      baseUrl: 'http://127.0.0.1:9',
      transport: 'body',
      fetch: server.http as typeof fetch,
      dpop: true,
    });
    await client.login('a@example.com', 'pw-123456');
    await client.fetch('http://127.0.0.1:8/api');
    const api = server.seen[1];
    assert.equal(api?.headers.get('authorization'), 'Bearer plain');
    assert.equal(api?.headers.get('dpop'), null);
    client.close();
  });

  it('sends no proof at all without the option', async () => {
    const server = fakeTessera();
    const client = createTesseraClient({
      baseUrl: 'http://127.0.0.1:9',
      transport: 'body',
      fetch: server.http as typeof fetch,
    });
    await client.login('a@example.com', 'pw-123456');
    await client.fetch('http://127.0.0.1:8/api');
    assert.ok(server.seen.every((s) => !s.headers.has('dpop')));
    assert.equal(server.seen[1]?.headers.get('authorization'), 'Bearer a1');
    client.close();
  });
});
