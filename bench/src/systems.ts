// The systems a refresh benchmark compares: Tessera, the hand-written ceiling and the peers, each
// started fresh, checked to answer correctly, and given 64 live credentials before it is timed.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { type ClusterOptions, startCeiling, startCluster } from './cluster.ts';
import type { HttpLoad } from './http-load.ts';
import { postJson } from './load.ts';
import { startBetterAuth } from './peers/better-auth.ts';
import { startOidcProvider } from './peers/oidc-provider.ts';
import { createSessions, PASSWORD } from './refresh-scenario.ts';

/** A started system: what to send it, its server process ids, and how to stop it. */
export interface Target {
  system: string;
  load: Pick<HttpLoad, 'urls' | 'path' | 'method' | 'headers' | 'credential'>;
  /** A password login of one registered user, where the system has one. */
  login?: Pick<HttpLoad, 'path' | 'method' | 'headers' | 'credential'>;
  pids: number[];
  /** The database's process name when it runs as a server of its own (`postgres`), for its CPU share. */
  dbProcess?: string;
  close(): Promise<void>;
}

/** A contender in a side-by-side comparison. */
export interface System {
  system: string;
  start(credentials: number): Promise<Target>;
}

/**
 * Proves a Tessera-shaped refresh endpoint rotates: the new token works, a token two generations old
 * is refused (reuse), and, given a JWKS, the access token verifies.
 */
export async function checkRotation(url: string, jwks?: { uri: string; issuer: string }): Promise<void> {
  const agent = new Agent({ keepAlive: false });
  const [first] = await createSessions([url], 1, agent);
  const refresh = async (token: string | undefined) =>
    postJson(agent, new URL('/auth/refresh', url), JSON.stringify({ refresh_token: token }));
  const second = await refresh(first);
  if (second.status !== 200) throw new Error(`refresh failed: ${second.status} ${second.body}`);
  const body = JSON.parse(second.body) as { access_token: string; refresh_token: string };
  if (body.refresh_token === first) throw new Error('refresh did not rotate the token');
  if (jwks)
    await jwtVerify(body.access_token, createRemoteJWKSet(new URL(jwks.uri)), { issuer: jwks.issuer });
  else if (body.access_token.split('.').length !== 3) throw new Error('the access token is not a JWT');
  const third = await refresh(body.refresh_token);
  if (third.status !== 200) throw new Error(`refresh of the new token failed: ${third.status}`);
  const reuse = await refresh(first);
  if (reuse.status !== 400 && reuse.status !== 401) throw new Error(`reuse was not refused: ${reuse.status}`);
  agent.destroy();
}

/**
 * Tessera's standalone server (`tessera start`) over SQLite or PostgreSQL, rotating via /auth/refresh;
 * `system` names a variant (other settings in `options.extraEnv`).
 */
export function tessera(
  options: ClusterOptions = { instances: 1, database: 'sqlite' },
  system = 'tessera',
): System {
  return {
    system,
    async start(credentials) {
      const cluster = await startCluster(options);
      return stopIfFailing(cluster, async () => {
        await checkRotation(cluster.urls[0] as string, {
          uri: new URL('/.well-known/jwks.json', cluster.urls[0]).href,
          issuer: cluster.env.TESSERA_ISSUER as string,
        });
        const agent = new Agent({ keepAlive: true });
        const tokens = await createSessions(cluster.urls, credentials, agent);
        const login = JSON.stringify({ email: `login-${randomUUID()}@example.com`, password: PASSWORD });
        const registered = await postJson(agent, new URL('/auth/register', cluster.urls[0]), login);
        if (registered.status !== 201) throw new Error(`register failed: ${registered.status}`);
        agent.destroy();
        return {
          system,
          load: {
            urls: cluster.urls,
            path: '/auth/refresh',
            method: 'POST',
            credential: { kind: 'rotating-json', tokens },
          },
          login: jsonLogin('/auth/login', login),
          pids: cluster.instances.map((i) => i.child.pid ?? 0),
          ...(options.database === 'postgres' ? { dbProcess: 'postgres' } : {}),
          close: () => cluster.close(),
        };
      });
    },
  };
}

/** The hand-written ceiling: node:http + node:sqlite (WAL, synchronous=FULL) + one Ed25519 signature. */
export const ceiling: System = {
  system: 'ceiling (node:http + node:sqlite + Ed25519)',
  async start(credentials) {
    const server = await startCeiling();
    return stopIfFailing(server, async () => {
      await checkRotation(server.url);
      const tokens = await createSessions([server.url], credentials, new Agent({ keepAlive: true }));
      return {
        system: this.system,
        load: {
          urls: [server.url],
          path: '/auth/refresh',
          method: 'POST',
          credential: { kind: 'rotating-json', tokens },
        },
        pids: [server.child.pid ?? 0],
        close: () => server.close(),
      };
    });
  },
};

/** oidc-provider's refresh_token grant with rotation and JWT access tokens, in-memory adapter. */
export const oidcProvider: System = {
  system: `oidc-provider ${packageVersion('oidc-provider')}`,
  async start(credentials) {
    const peer = await startOidcProvider();
    return stopIfFailing(peer, async () => {
      await peer.check();
      const tokens = await peer.mint(credentials);
      return {
        system: this.system,
        load: {
          urls: [peer.url],
          path: '/token',
          method: 'POST',
          credential: { kind: 'rotating-form', tokens, clientId: 'bench' },
        },
        pids: [peer.pid],
        close: () => peer.close(),
      };
    });
  },
};

/**
 * oidc-provider's best case (the shape an outside harness gave it): a fresh grant per request (each
 * minted refresh token presented once, so no refresh chain grows) on an unbounded Map adapter (no
 * eviction, no disk). Tokens are minted before each run, outside the timing and the CPU measurement.
 */
export const oidcProviderFresh: System = {
  system: `oidc-provider ${packageVersion('oidc-provider')} (fresh grant per request, unbounded memory)`,
  async start() {
    const peer = await startOidcProvider({ unbounded: true });
    return stopIfFailing(peer, async () => {
      await peer.check();
      return {
        system: this.system,
        load: {
          urls: [peer.url],
          path: '/token',
          method: 'POST',
          credential: {
            kind: 'fresh-form',
            mintUrl: new URL('/bench/mint', peer.url).href,
            clientId: 'bench',
          },
        },
        pids: [peer.pid],
        close: () => peer.close(),
      };
    });
  },
};

/** Better Auth's JWT plugin (`GET /api/auth/token`): a session read, or a read that extends the session. */
export function betterAuth(extendEveryRead: boolean): System {
  const system = `better-auth ${packageVersion('better-auth')} (JWT plugin, ${extendEveryRead ? 'every read extends' : 'session read'})`;
  return {
    system,
    async start(credentials) {
      const peer = await startBetterAuth({ extendEveryRead });
      return stopIfFailing(peer, async () => {
        await peer.check();
        const cookies = await peer.signUp(credentials);
        return {
          system,
          load: {
            urls: [peer.url],
            path: '/api/auth/token',
            method: 'GET',
            credential: { kind: 'cookie', cookies },
          },
          login: jsonLogin('/api/auth/sign-in/email', JSON.stringify(peer.login)),
          pids: [peer.pid],
          close: () => peer.close(),
        };
      });
    },
  };
}

/** A password login posted as JSON to `path`, the same body every time. */
function jsonLogin(path: string, body: string): NonNullable<Target['login']> {
  return {
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    credential: { kind: 'static', body },
  };
}

/** Runs `prepare` on a started server and stops the server if preparing it fails. */
async function stopIfFailing<T>(server: { close(): Promise<void> }, prepare: () => Promise<T>): Promise<T> {
  try {
    return await prepare();
  } catch (error) {
    await server.close();
    throw error;
  }
}

/** The version of an installed package, as published. */
export function packageVersion(name: string): string {
  const file = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}
