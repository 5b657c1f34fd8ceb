// Better Auth as a benchmark peer: starts ./better-auth-server.ts (Better Auth as published, over a
// fresh SQLite file in its own process, as Tessera runs) and drives it over HTTP. The benchmarked
// request is `GET /api/auth/token` with a session cookie: one session read (and, with
// `extendEveryRead`, a session extension) and one JWT signature, Tessera's refresh counterpart.
// Every request here sends `origin: <url>`: Node's fetch adds `sec-fetch-mode: cors`, and Better
// Auth then requires a trusted Origin on POSTs; clients that send no Sec-Fetch-* header (node:http,
// autocannon) need only `content-type: application/json` to sign in.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { startScript } from '../cluster.ts';

/** A running Better Auth server for the benchmark. */
export interface BetterAuthPeer {
  url: string;
  /** The server's process id. */
  pid: number;
  /** The installed better-auth version. */
  version: string;
  /** Registers `count` users; resolves, per user, the `cookie` header value carrying its session. */
  signUp(count: number): Promise<string[]>;
  /** A registered user, for a `POST /api/auth/sign-in/email` login benchmark. */
  login: { email: string; password: string };
  /** Proves the token endpoint and the session extension mode are right; throws otherwise. */
  check(): Promise<void>;
  close(): Promise<void>;
}

interface SessionView {
  session: { expiresAt: string };
  user: { id: string };
}

const PASSWORD = 'bench-password-8c1f';
const SIGN_UP_BATCH = 8;

const version = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.resolve('better-auth')), 'utf8')) as {
    version: string;
  }
).version;

/**
 * Starts Better Auth over a fresh SQLite file (removed by `close()`), registers the `login` user and
 * creates the JWT signing key (so timed requests never race to mint one). `extendEveryRead` makes
 * every session read extend the session (`updateAge: 0`); otherwise reads are pure reads.
 */
export async function startBetterAuth(options: { extendEveryRead: boolean }): Promise<BetterAuthPeer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-better-auth-'));
  const server = await startScript(
    new URL('./better-auth-server.ts', import.meta.url),
    [join(dataDir, 'better-auth.db')],
    { EXTEND_EVERY_READ: options.extendEveryRead ? '1' : '0' },
    dataDir,
  );
  const { url } = server;
  const run = randomBytes(4).toString('hex');
  let users = 0;

  function request(path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${url}/api/auth${path}`, { ...init, headers: { origin: url, ...init.headers } });
  }

  async function register(email: string): Promise<string> {
    const response = await request('/sign-up/email', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email, password: PASSWORD, name: email }),
    });
    const cookie = response.headers
      .getSetCookie()
      .map((c) => c.split(';')[0] ?? '')
      .find((c) => c.startsWith('better-auth.session_token='));
    if (response.status !== 200 || !cookie) {
      throw new Error(`better-auth sign-up returned ${response.status}: ${await response.text()}`);
    }
    return cookie;
  }

  function nextEmail(): string {
    users += 1;
    return `user${users}-${run}@bench.example`;
  }

  async function signUp(count: number): Promise<string[]> {
    const cookies: string[] = [];
    for (let i = 0; i < count; i += SIGN_UP_BATCH) {
      const batch = Array.from({ length: Math.min(SIGN_UP_BATCH, count - i) }, () => register(nextEmail()));
      cookies.push(...(await Promise.all(batch)));
    }
    return cookies;
  }

  async function json<T>(path: string, cookie: string): Promise<T> {
    const response = await request(path, { headers: { cookie } });
    if (response.status !== 200) throw new Error(`better-auth ${path} returned ${response.status}`);
    return (await response.json()) as T;
  }

  async function check(): Promise<void> {
    const [cookie = ''] = await signUp(1);
    // `disableRefresh` lets these observations read the session without extending it.
    const before = await json<SessionView>('/get-session?disableRefresh=true', cookie);
    await sleep(20);
    const { token } = await json<{ token?: unknown }>('/token', cookie);
    if (typeof token !== 'string') throw new Error('better-auth /token returned no token');
    const after = await json<SessionView>('/get-session?disableRefresh=true', cookie);

    const jwks = createRemoteJWKSet(new URL(`${url}/api/auth/jwks`));
    const { payload } = await jwtVerify(token, jwks, { issuer: url, audience: url });
    if (payload.sub !== before.user.id) {
      throw new Error(`better-auth JWT sub is ${payload.sub}, expected ${before.user.id}`);
    }
    const anonymous = await request('/token');
    if (anonymous.status !== 401) {
      throw new Error(`better-auth /token without a cookie returned ${anonymous.status}`);
    }

    const moved = Date.parse(after.session.expiresAt) - Date.parse(before.session.expiresAt);
    if (options.extendEveryRead ? moved <= 0 : moved !== 0) {
      throw new Error(
        `better-auth session expiry moved by ${moved} ms on a read; expected ${options.extendEveryRead ? 'forward' : 'no change'}`,
      );
    }
  }

  const login = { email: nextEmail(), password: PASSWORD };
  try {
    const keys = await request('/jwks');
    if (keys.status !== 200) throw new Error(`better-auth /jwks returned ${keys.status}`);
    await register(login.email);
  } catch (error) {
    await server.close();
    throw error;
  }
  return { url, pid: server.child.pid ?? 0, version, signUp, login, check, close: () => server.close() };
}
