import { createTestDpopKey, signTestDpopProof } from '@tessera/core/testing';
import { call, PASSWORD, type TestServer } from '../helpers/server.ts';
import type { Values } from './render.ts';

/** A session the test holds the credentials of. */
export interface Holder {
  email: string;
  userId: string;
  sessionId: string;
  access: string;
  /** The refresh token (`rotating-refresh`) or session handle (`expired-token-exchange`), else ''. */
  renewal: string;
}

/** The sessions and credentials of one server under fuzz. */
export interface Fixtures {
  /** What the fuzzer may use: its secrets are the victim's, an expired token, a revoked session's, the service token. */
  values: Values;
  /** A session the fuzzer never gets a credential of: it must survive every failed request. */
  bystander: Holder;
  /** Every session id the test has seen (their rows are part of the snapshot). */
  sessionIds: Set<string>;
}

let counter = 0;

/** DPoP proofs by a key of the test's own, for the public URL (the issuer's origin) and the server's clock. */
async function dpopProofs(t: TestServer): Promise<Record<'dpop-proof' | 'dpop-proof-stale', string>> {
  const key = await createTestDpopKey();
  const iat = Math.floor(t.clock.now() / 1000);
  return {
    'dpop-proof': await signTestDpopProof(key, {
      htm: 'POST',
      htu: 'http://127.0.0.1:4000/auth/refresh',
      iat,
    }),
    'dpop-proof-stale': await signTestDpopProof(key, {
      htm: 'POST',
      htu: 'http://127.0.0.1:4000/oauth/token',
      iat: iat - 3600,
    }),
  };
}

function subjectOf(accessToken: string): string {
  return JSON.parse(Buffer.from(accessToken.split('.')[1] ?? '', 'base64url').toString()).sub;
}

/** Registers a fresh user with body transport and returns its session's credentials. */
export async function registerHolder(t: TestServer, label: string): Promise<Holder> {
  counter += 1;
  const email = `${label}-${counter}@example.com`;
  const response = await call(t.url, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
  if (response.status !== 201)
    throw new Error(`register ${label}: ${response.status} ${response.body?.error}`);
  return {
    email,
    userId: subjectOf(response.body.access_token),
    sessionId: response.body.session_id,
    access: response.body.access_token,
    renewal: response.body.refresh_token ?? response.body.session_token ?? '',
  };
}

const NO_RENEWAL = 'tsr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';

/** The values the fuzzer's names stand for, around `victim`. */
export function valuesFor(victim: Holder, fixtures: Pick<Fixtures, 'values' | 'bystander'>): Values {
  return {
    secrets: {
      ...fixtures.values.secrets,
      'victim-access': victim.access,
      'victim-refresh': victim.renewal || NO_RENEWAL,
      'victim-session-handle': victim.renewal || NO_RENEWAL,
    },
    known: {
      'victim-session-id': victim.sessionId,
      'victim-user-id': victim.userId,
      'victim-email': victim.email,
      'bystander-session-id': fixtures.bystander.sessionId,
    },
  };
}

/**
 * Sets up a server for fuzzing: a session whose access token has expired (the clock moves past its
 * lifetime, `accessTtlSeconds` plus the leeway), a logged-out session, the victim whose credentials the
 * fuzzer uses, and the bystander.
 */
export async function setUpFixtures(
  t: TestServer,
  accessTtlSeconds: number,
  serviceToken: string,
): Promise<Fixtures> {
  const expired = await registerHolder(t, 'expired');
  t.clock.advance((accessTtlSeconds + 5) * 1000);
  const revoked = await registerHolder(t, 'revoked');
  const logout = await call(t.url, 'POST', '/auth/logout', { token: revoked.access });
  if (logout.status !== 204) throw new Error(`logout: ${logout.status}`);
  const victim = await registerHolder(t, 'victim');
  const bystander = await registerHolder(t, 'bystander');
  const fixtures: Fixtures = {
    values: {
      secrets: {
        'victim-access': '',
        'victim-refresh': '',
        'victim-session-handle': '',
        'expired-access': expired.access,
        'revoked-access': revoked.access,
        'revoked-refresh': revoked.renewal || NO_RENEWAL,
        'service-token': serviceToken,
        password: PASSWORD,
        ...(await dpopProofs(t)),
      },
      known: {
        'victim-session-id': '',
        'victim-user-id': '',
        'victim-email': '',
        'bystander-session-id': '',
      },
    },
    bystander,
    sessionIds: new Set([expired.sessionId, revoked.sessionId, victim.sessionId, bystander.sessionId]),
  };
  fixtures.values = valuesFor(victim, fixtures);
  return fixtures;
}

/**
 * Whether the bystander's session still works: its access token is accepted and, with `refresh` under
 * `rotating-refresh`, its refresh token rotates (the holder keeps the new one). Returns what failed, or null.
 */
export async function bystanderProblem(
  t: TestServer,
  fixtures: Fixtures,
  options: { refresh: boolean },
): Promise<string | null> {
  const { bystander } = fixtures;
  const me = await call(t.url, 'GET', '/auth/me', { token: bystander.access });
  if (me.status !== 200) return `the bystander's access token is refused: ${me.status} ${me.body?.error}`;
  if (!options.refresh || !bystander.renewal.startsWith('tsr_')) return null;
  const refreshed = await call(t.url, 'POST', '/auth/refresh', {
    json: { refresh_token: bystander.renewal },
  });
  if (refreshed.status !== 200)
    return `the bystander's refresh failed: ${refreshed.status} ${refreshed.body?.error}`;
  bystander.renewal = refreshed.body.refresh_token;
  bystander.access = refreshed.body.access_token;
  return null;
}

/**
 * Asks each route which of `shapes` (sets of field names) its body takes, with harmless values and the
 * credentials of a user of its own (or the service token): a shape is taken unless the route names one
 * of its fields as unknown. The fuzzer then favours those shapes, so its requests reach the engine.
 */
export async function learnShapes(
  t: TestServer,
  routes: readonly { method: string; path: string; auth: string }[],
  shapes: readonly (readonly string[])[],
  fixtures: Fixtures,
): Promise<(readonly string[])[][]> {
  const accepted: (readonly string[])[][] = [];
  let prober = await registerHolder(t, 'prober');
  for (const route of routes) {
    const taken: (readonly string[])[] = [];
    if (route.method !== 'GET') {
      const path = route.path.replace(/:[^/]+/g, 'x');
      for (const shape of shapes) {
        const ask = () =>
          call(t.url, route.method, path, {
            json: Object.fromEntries(shape.map((name) => [name, 'x'])),
            token: route.auth === 'service' ? fixtures.values.secrets['service-token'] : prober.access,
          });
        let response = await ask();
        if (response.status === 401 && route.auth === 'bearer') {
          // An earlier probe ended the prober's session (logout-all takes an empty body): a new one asks again.
          prober = await registerHolder(t, 'prober');
          response = await ask();
        }
        const unknown =
          response.status === 400 && /unknown field/i.test(response.body?.error_description ?? '');
        if (!unknown) taken.push(shape);
      }
    }
    accepted.push(taken);
  }
  return accepted;
}

/**
 * Renews `holder`'s session the way `policy` renews, moving the clock as far as that takes (so run it
 * last): a refresh, a soft-expiry renewal, a sliding renewal past half the token's life, an expired-token
 * exchange; a policy without renewal (or one this test does not know) must still accept the token.
 * Returns what failed, or null.
 */
export async function renewalProblem(
  t: TestServer,
  policy: string,
  holder: Holder,
  accessTtlSeconds: number,
): Promise<string | null> {
  const answer = (r: { status: number; body: { error?: string } | null }) =>
    `${r.status} ${r.body?.error ?? ''}`;
  switch (policy) {
    case 'rotating-refresh': {
      const r = await call(t.url, 'POST', '/auth/refresh', { json: { refresh_token: holder.renewal } });
      return r.status === 200 ? null : `refresh: ${answer(r)}`;
    }
    case 'soft-expiry': {
      // The soft lifetime defaults to a sixth of the access token's.
      t.clock.advance((accessTtlSeconds / 6 + 1) * 1000);
      const r = await call(t.url, 'POST', '/auth/renew', { json: {}, token: holder.access });
      return r.status === 200 ? null : `renew: ${answer(r)}`;
    }
    case 'sliding-single-token': {
      t.clock.advance((accessTtlSeconds / 2 + 1) * 1000);
      const r = await call(t.url, 'GET', '/auth/me', { token: holder.access });
      return r.status === 200 && r.headers.has('tessera-access-token') ? null : `slide: ${answer(r)}`;
    }
    case 'expired-token-exchange': {
      t.clock.advance((accessTtlSeconds + 5) * 1000);
      const r = await call(t.url, 'POST', '/auth/refresh', {
        json: { session_token: holder.renewal },
        token: holder.access,
      });
      return r.status === 200 ? null : `exchange: ${answer(r)}`;
    }
    default: {
      const r = await call(t.url, 'GET', '/auth/me', { token: holder.access });
      return r.status === 200 ? null : `access token: ${answer(r)}`;
    }
  }
}
