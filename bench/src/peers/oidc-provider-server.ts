/**
 * oidc-provider, as published on npm, run as a refresh-token peer for the benchmark (started in its own
 * process by ./oidc-provider.ts, as Tessera runs in its own). Settings, chosen so that one refresh does
 * the same work as a Tessera refresh:
 * - issuer `http://127.0.0.1:<port>`, listening on 127.0.0.1 only (port from PORT, default a free one);
 * - one public client `bench` (`token_endpoint_auth_method: 'none'`): Tessera's refresh is
 *   unauthenticated too; its `id_token_signed_response_alg` is EdDSA because the default, RS256, has
 *   no key here (no ID token is ever issued);
 * - `rotateRefreshToken: true`: every refresh consumes the token and issues a new one, and presenting
 *   a consumed token revokes the whole grant (oidc-provider's own reuse detection);
 * - JWT access tokens through resource indicators: resource `urn:tessera:bench`, scope `api`, 600 s,
 *   signed EdDSA with an Ed25519 key generated at startup; no `openid` scope, so no ID token: one
 *   signature per refresh, like Tessera;
 * - the default in-memory adapter (no database, the provider's fastest storage). It is an LRU of
 *   1,000 entries (kept up to 2,000): each minted token takes 3 entries and each refresh adds 1 to 3,
 *   so tokens left unused while a few hundred others are minted or refreshed get evicted
 *   (`invalid_grant`). Refresh chains that keep using their latest token stay alive. It also keeps
 *   every rotated token of a grant in that grant's index, so a refresh costs a little more the longer
 *   its chain (a fifth of the server's CPU after ~2,600 rotations per chain);
 * - with ADAPTER=unbounded (the best-case shape), a plain Map adapter instead: nothing is ever
 *   evicted or expired, no per-entry bookkeeping but the grant index its reuse detection needs; the
 *   benchmark then presents each minted token once (a fresh grant per request, no refresh chains);
 * - random cookie keys; devInteractions off (no login UI is used; this only silences its warning).
 * Refresh tokens are minted through oidc-provider's own models by the bench-only route
 * `POST /bench/mint?count=N`, one account and one grant per token, as after a code flow.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
// @ts-expect-error oidc-provider ships no type declarations.
import Provider from 'oidc-provider';

const RESOURCE = 'urn:tessera:bench';
const CLIENT_ID = 'bench';

const server = createServer();
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const signingKey = {
  ...generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }),
  kid: randomBytes(8).toString('base64url'),
};

/**
 * The cheapest storage oidc-provider can have: one Map, never evicted (the run is short), and the
 * grant index `revokeByGrantId` needs (a consumed refresh token presented again revokes its grant).
 */
class UnboundedAdapter {
  static readonly entries = new Map<string, Record<string, unknown>>();
  static readonly grants = new Map<string, Set<string>>();
  static readonly index = new Map<string, string>();
  readonly model: string;
  constructor(model: string) {
    this.model = model;
  }
  private key(id: string): string {
    return `${this.model}:${id}`;
  }
  async upsert(id: string, payload: Record<string, unknown>): Promise<void> {
    const key = this.key(id);
    UnboundedAdapter.entries.set(key, payload);
    if (typeof payload.grantId === 'string') {
      const members = UnboundedAdapter.grants.get(payload.grantId) ?? new Set<string>();
      members.add(key);
      UnboundedAdapter.grants.set(payload.grantId, members);
    }
    if (typeof payload.uid === 'string') UnboundedAdapter.index.set(`uid:${payload.uid}`, id);
    if (typeof payload.userCode === 'string') UnboundedAdapter.index.set(`code:${payload.userCode}`, id);
  }
  async find(id: string): Promise<Record<string, unknown> | undefined> {
    return UnboundedAdapter.entries.get(this.key(id));
  }
  async findByUid(uid: string): Promise<Record<string, unknown> | undefined> {
    const id = UnboundedAdapter.index.get(`uid:${uid}`);
    return id === undefined ? undefined : this.find(id);
  }
  async findByUserCode(userCode: string): Promise<Record<string, unknown> | undefined> {
    const id = UnboundedAdapter.index.get(`code:${userCode}`);
    return id === undefined ? undefined : this.find(id);
  }
  async consume(id: string): Promise<void> {
    const entry = UnboundedAdapter.entries.get(this.key(id));
    if (entry) entry.consumed = Math.floor(Date.now() / 1000);
  }
  async destroy(id: string): Promise<void> {
    UnboundedAdapter.entries.delete(this.key(id));
  }
  async revokeByGrantId(grantId: string): Promise<void> {
    for (const key of UnboundedAdapter.grants.get(grantId) ?? []) UnboundedAdapter.entries.delete(key);
    UnboundedAdapter.grants.delete(grantId);
  }
}

const provider = new Provider(issuer, {
  ...(process.env.ADAPTER === 'unbounded' ? { adapter: UnboundedAdapter } : {}),
  clients: [
    {
      client_id: CLIENT_ID,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: ['http://127.0.0.1/cb'],
      id_token_signed_response_alg: 'EdDSA',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id }) }),
  rotateRefreshToken: true,
  features: {
    devInteractions: { enabled: false },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => RESOURCE,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({
        scope: 'api',
        accessTokenFormat: 'jwt',
        accessTokenTTL: 600,
        jwt: { sign: { alg: 'EdDSA' } },
      }),
    },
  },
});

let accounts = 0;

/** Mints `count` refresh tokens, each for a new account with its own grant of `api` on the resource. */
async function mint(count: number): Promise<string[]> {
  const client = await provider.Client.find(CLIENT_ID);
  const authTime = Math.floor(Date.now() / 1000);
  return Promise.all(
    Array.from({ length: count }, async () => {
      accounts += 1;
      const accountId = `user-${accounts}`;
      const grant = new provider.Grant({ accountId, clientId: CLIENT_ID });
      grant.addResourceScope(RESOURCE, 'api');
      const grantId: string = await grant.save();
      const token = new provider.RefreshToken({
        accountId,
        client,
        grantId,
        scope: 'api',
        resource: RESOURCE,
        gty: 'authorization_code',
        authTime,
      });
      return token.save() as Promise<string>;
    }),
  );
}

// oidc-provider answers every refused grant with the same description; say each distinct reason
// once (the check's deliberate replay of a consumed token shows up as "refresh token already used").
const reasons = new Set<string>();
provider.on('grant.error', (_ctx: unknown, error: { error_detail?: string; message: string }) => {
  const reason = error.error_detail ?? error.message;
  if (reasons.has(reason)) return;
  reasons.add(reason);
  process.stderr.write(`oidc-provider refused a grant: ${reason}\n`);
});

const callback = provider.callback();
server.on('request', (req, res) => {
  const url = new URL(req.url ?? '/', issuer);
  if (req.method !== 'POST' || url.pathname !== '/bench/mint') {
    callback(req, res);
    return;
  }
  const count = Number(url.searchParams.get('count'));
  if (!Number.isSafeInteger(count) || count < 1) {
    res.writeHead(400).end('count must be a positive integer');
    return;
  }
  mint(count).then(
    (tokens) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ refresh_tokens: tokens }));
    },
    (error: { message: string; error_description?: string }) =>
      res.writeHead(500).end(error.error_description ?? error.message),
  );
});

process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
});

console.log(`oidc-provider is running at ${issuer}`);
