import type { webcrypto } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from 'jose';

/** One signing key of a {@link TestIdentityProvider}. */
export interface TestProviderKey {
  kid: string;
  alg: string;
  privateKey: webcrypto.CryptoKey;
  publicJwk: JWK;
}

/** A small OpenID provider on loopback: discovery, a JWKS it can rotate, and ID tokens signed on demand. */
export interface TestIdentityProvider {
  /** `http://127.0.0.1:<port>`: its `iss`. */
  issuer: string;
  /** Its JWKS URL. */
  jwksUri: string;
  /** How many times the discovery document and the JWKS were fetched. */
  readonly fetches: { discovery: number; jwks: number };
  /** The key tokens are signed with by default (the first published one). */
  readonly key: TestProviderKey;
  /**
   * Signs an ID token: `iss`, `aud`, `sub`, `iat` (`nowMs`) and `exp` (`nowMs` + 5 min) unless `claims`
   * set them (`undefined` removes one). `key` signs instead of the current key (published or not).
   */
  sign(
    claims: Record<string, unknown>,
    options?: { nowMs?: number; key?: TestProviderKey; header?: Record<string, unknown> },
  ): Promise<string>;
  /** A fresh key pair, not published until {@link publish} is given it. */
  newKey(alg?: 'RS256' | 'ES256' | 'EdDSA'): Promise<TestProviderKey>;
  /** Replaces the published keys (a rotation); the first becomes the default signing key. */
  publish(keys: TestProviderKey[]): void;
  /** Makes the provider answer 503 to everything (an outage) until called with false. */
  fail(failing: boolean): void;
  close(): Promise<void>;
}

/**
 * Starts a {@link TestIdentityProvider} on a loopback port with one RS256 key. `audience` is the default
 * `aud` of the tokens it signs.
 * @example
 * const idp = await startTestIdentityProvider('my-app');
 * const idToken = await idp.sign({ sub: 'alice', nonce: 'n-1' }, { nowMs: clock.now() });
 */
export async function startTestIdentityProvider(audience: string): Promise<TestIdentityProvider> {
  let published: TestProviderKey[] = [];
  let failing = false;
  const fetches = { discovery: 0, jwks: 0 };
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (failing) return send(503, { error: 'down' });
    if (req.url === '/.well-known/openid-configuration') {
      fetches.discovery += 1;
      return send(200, {
        issuer,
        jwks_uri: `${issuer}/jwks`,
        id_token_signing_alg_values_supported: ['RS256', 'ES256', 'EdDSA', 'HS256', 'none'],
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
      });
    }
    if (req.url === '/jwks') {
      fetches.jwks += 1;
      return send(200, { keys: published.map((key) => key.publicJwk) });
    }
    return send(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let counter = 0;
  const newKey = async (alg: 'RS256' | 'ES256' | 'EdDSA' = 'RS256'): Promise<TestProviderKey> => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    counter += 1;
    const kid = `key-${counter}`;
    return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
  };
  published = [await newKey()];
  return {
    issuer,
    jwksUri: `${issuer}/jwks`,
    fetches,
    get key() {
      return published[0] as TestProviderKey;
    },
    async sign(claims, options = {}) {
      const key = options.key ?? (published[0] as TestProviderKey);
      const nowSeconds = Math.floor((options.nowMs ?? Date.now()) / 1000);
      const payload: JWTPayload = { iss: issuer, aud: audience, iat: nowSeconds, exp: nowSeconds + 300 };
      for (const [name, value] of Object.entries(claims)) {
        if (value === undefined) delete payload[name];
        else payload[name] = value;
      }
      return new SignJWT(payload)
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT', ...options.header })
        .sign(key.privateKey);
    },
    newKey,
    publish(keys) {
      published = [...keys];
    },
    fail(value) {
      failing = value;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
