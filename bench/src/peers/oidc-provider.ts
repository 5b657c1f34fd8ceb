/**
 * The oidc-provider peer of the refresh benchmark, seen from the benchmark process: starts
 * ./oidc-provider-server.ts in its own Node process, mints refresh tokens in it and checks, before any
 * timing, that it refreshes the way Tessera does (rotating refresh token, EdDSA JWT access token,
 * rejection of a consumed token).
 */
import { createRequire } from 'node:module';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startScript } from '../cluster.ts';

const RESOURCE = 'urn:tessera:bench';

const { version } = createRequire(import.meta.url)('oidc-provider/package.json') as { version: string };

/** A running oidc-provider for the benchmark. */
export interface OidcPeer {
  url: string;
  /** The server's process id. */
  pid: number;
  version: string;
  mint(count: number): Promise<string[]>;
  check(): Promise<void>;
  close(): Promise<void>;
}

/** The status and JSON body of a token endpoint response. */
interface TokenResponse {
  status: number;
  body: Record<string, unknown>;
}

/** Sends the refresh request the benchmark sends. */
async function refresh(url: string, token: string): Promise<TokenResponse> {
  const response = await fetch(new URL('/token', url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', client_id: 'bench', refresh_token: token }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Throws the error of a failed {@link OidcPeer.check}. */
function fail(what: string, got: unknown): never {
  throw new Error(`oidc-provider check: ${what}, got ${JSON.stringify(got)}`);
}

/**
 * Starts oidc-provider (see ./oidc-provider-server.ts for its settings; `unbounded` for the Map
 * adapter of the best-case shape). `mint(count)` returns fresh
 * refresh tokens, one account each; `check()` throws unless a refresh answers 200 with an EdDSA JWT
 * access token valid for the provider's keys, issuer and `urn:tessera:bench`, and a new refresh token
 * that refreshes again, while the consumed one is refused with 400 `invalid_grant`.
 */
export async function startOidcProvider(options: { unbounded?: boolean } = {}): Promise<OidcPeer> {
  const server = await startScript(
    new URL('./oidc-provider-server.ts', import.meta.url),
    [],
    options.unbounded ? { ADAPTER: 'unbounded' } : {},
  );
  const { url } = server;

  const mint = async (count: number): Promise<string[]> => {
    const response = await fetch(new URL(`/bench/mint?count=${count}`, url), { method: 'POST' });
    if (response.status !== 200) throw new Error(`oidc-provider mint: ${await response.text()}`);
    return ((await response.json()) as { refresh_tokens: string[] }).refresh_tokens;
  };

  const check = async (): Promise<void> => {
    const [first = ''] = await mint(1);
    const one = await refresh(url, first);
    const { access_token, refresh_token, token_type, expires_in } = one.body;
    if (one.status !== 200) fail('refresh should answer 200', one);
    if (typeof access_token !== 'string' || typeof refresh_token !== 'string') fail('no tokens', one);
    if (typeof token_type !== 'string' || typeof expires_in !== 'number') fail('no type/expiry', one);
    if (refresh_token === first) fail('the refresh token should rotate', one);

    const discovery = (await (await fetch(new URL('/.well-known/openid-configuration', url))).json()) as {
      jwks_uri: string;
    };
    await jwtVerify(access_token, createRemoteJWKSet(new URL(discovery.jwks_uri)), {
      issuer: url,
      audience: RESOURCE,
      algorithms: ['EdDSA'],
      typ: 'at+jwt',
    });

    const two = await refresh(url, refresh_token);
    if (two.status !== 200) fail('the rotated token should refresh with 200', two);
    const replay = await refresh(url, first);
    if (replay.status !== 400 || replay.body.error !== 'invalid_grant') {
      fail('the consumed token should answer 400 invalid_grant', replay);
    }
  };

  return { url, pid: server.child.pid ?? 0, version, mint, check, close: () => server.close() };
}
