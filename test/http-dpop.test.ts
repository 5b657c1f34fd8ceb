import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { POLICY_NAMES } from '@tessera/core';
import { createTestDpopKey, signTestDpopProof, type TestDpopKey } from '@tessera/core/testing';
import { decodeJwt } from 'jose';
import { ALLOWED_ORIGIN, call, PASSWORD, startTestServer, type TestServer } from './helpers/server.ts';

// The servers listen on a random loopback port, but their public URL is the issuer's origin: proofs
// name that (as clients behind a proxy would), never the address the request reached.
const PUBLIC = 'http://127.0.0.1:4000';

const servers: TestServer[] = [];
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serverWith(env: Record<string, string> = {}): Promise<TestServer> {
  const t = await startTestServer({ TESSERA_REUSE_GRACE: '0s', ...env });
  servers.push(t);
  return t;
}

interface ProofOptions {
  key?: TestDpopKey;
  htm?: string;
  htu?: string;
  iat?: number;
  ath?: string;
  nonce?: string;
  /** A proof to send as is (a replay). */
  proof?: string;
  /** No DPoP header at all. */
  none?: boolean;
}

/** A request with a DPoP proof for it (unless `proof.none`); `dpopToken` sends `Authorization: DPoP` with `ath`. */
async function dpopCall(
  t: TestServer,
  key: TestDpopKey,
  method: string,
  path: string,
  options: {
    json?: unknown;
    body?: string;
    headers?: Record<string, string>;
    dpopToken?: string;
    bearer?: string;
    proof?: ProofOptions;
  } = {},
) {
  const p = options.proof ?? {};
  const headers: Record<string, string> = { ...options.headers };
  let proof: string | undefined = p.proof;
  if (!p.none && proof === undefined) {
    proof = await signTestDpopProof(p.key ?? key, {
      htm: p.htm ?? method,
      htu: p.htu ?? `${PUBLIC}${path}`,
      iat: p.iat ?? Math.floor(t.clock.now() / 1000),
      ...(options.dpopToken === undefined ? {} : { accessToken: options.dpopToken }),
      ...(p.ath === undefined ? {} : { ath: p.ath }),
      ...(p.nonce === undefined ? {} : { nonce: p.nonce }),
    });
  }
  if (proof !== undefined) headers.dpop = proof;
  if (options.dpopToken !== undefined) headers.authorization = `DPoP ${options.dpopToken}`;
  const response = await call(t.url, method, path, {
    headers,
    ...(options.json === undefined ? {} : { json: options.json }),
    ...(options.body === undefined ? {} : { body: options.body }),
    ...(options.bearer === undefined ? {} : { token: options.bearer }),
  });
  return { ...response, proof };
}

async function boundRegister(t: TestServer, key: TestDpopKey) {
  const email = `d${Math.random().toString(36).slice(2)}@example.com`;
  const reg = await dpopCall(t, key, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
  assert.equal(reg.status, 201, reg.text);
  return { email, ...reg };
}

function assertChallenge(
  response: { status: number; headers: Headers; body: { error?: string } },
  error: string,
) {
  assert.equal(response.status, 401);
  assert.equal(response.body.error, error);
  const header = response.headers.get('www-authenticate') ?? '';
  assert.match(header, new RegExp(`^DPoP error="${error}"`));
  assert.match(header, /algs="ES256 EdDSA Ed25519 RS256"/);
}

describe('DPoP at the token routes (body transport)', () => {
  let t: TestServer;
  let key: TestDpopKey;
  before(async () => {
    t = await serverWith();
    key = await createTestDpopKey();
  });

  it('binds a session registered with a proof: token_type DPoP, cnf.jkt, bound refresh', async () => {
    const reg = await boundRegister(t, key);
    assert.equal(reg.body.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(reg.body.access_token).cnf, { jkt: key.jkt });
    const refreshed = await dpopCall(t, key, 'POST', '/auth/refresh', {
      json: { refresh_token: reg.body.refresh_token },
    });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal(refreshed.body.token_type, 'DPoP');
    assert.deepEqual(decodeJwt(refreshed.body.access_token).cnf, { jkt: key.jkt });
    const plain = await call(t.url, 'POST', '/auth/login', {
      json: { email: reg.email, password: PASSWORD },
    });
    assert.equal(plain.body.token_type, 'Bearer');
  });

  it('refuses each bad proof with invalid_dpop_proof and changes nothing', async () => {
    const reg = await boundRegister(t, key);
    const refresh = { refresh_token: reg.body.refresh_token };
    const now = Math.floor(t.clock.now() / 1000);
    const first = await dpopCall(t, key, 'POST', '/auth/refresh', { json: refresh, proof: {} });
    assert.equal(first.status, 200);
    const next = { refresh_token: first.body.refresh_token };
    const refusals: [string, ProofOptions][] = [
      ['replayed proof', { proof: first.proof as string }],
      ['other method', { htm: 'PUT' }],
      ['other URL', { htu: `${PUBLIC}/oauth/token` }],
      ['other host', { htu: `http://evil.example/auth/refresh` }],
      ['stale iat', { iat: now - 61 }],
      ['future iat', { iat: now + 30 }],
      ['two proofs', { proof: `${first.proof}, ${first.proof}` }],
      ['not a JWS', { proof: 'not-a-proof' }],
    ];
    for (const [name, proof] of refusals) {
      const response = await dpopCall(t, key, 'POST', '/auth/refresh', { json: next, proof });
      assert.equal(response.status, 400, `${name}: ${response.text}`);
      assert.equal(response.body.error, 'invalid_dpop_proof', name);
    }
    const still = await dpopCall(t, key, 'POST', '/auth/refresh', { json: next });
    assert.equal(still.status, 200, 'the refresh token was never used up');
  });

  it('refuses a proof-less or other-key refresh with invalid_grant, emits session.dpop_mismatch, keeps the session', async () => {
    const reg = await boundRegister(t, key);
    const refresh = { refresh_token: reg.body.refresh_token };
    const before = t.events.length;
    const stolen = await call(t.url, 'POST', '/auth/refresh', { json: refresh });
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.error, 'invalid_grant');
    assert.equal(stolen.body.session_ended, undefined);
    const thief = await createTestDpopKey();
    const other = await dpopCall(t, thief, 'POST', '/auth/refresh', { json: refresh });
    assert.equal(other.status, 400);
    assert.equal(other.body.error, 'invalid_grant');
    const mismatches = t.events.slice(before).filter((e) => e.type === 'session.dpop_mismatch');
    assert.deepEqual(
      mismatches.map((e) => e.type === 'session.dpop_mismatch' && [e.sessionId, e.proof]),
      [
        [reg.body.session_id, 'missing_proof'],
        [reg.body.session_id, 'other_key'],
      ],
    );
    const owner = await dpopCall(t, key, 'POST', '/auth/refresh', { json: refresh });
    assert.equal(owner.status, 200, 'the owner keeps the session');
  });

  it('binds at /oauth/token (form body) and refuses its refresh without the key', async () => {
    const reg = await boundRegister(t, key);
    const form = (token: string) =>
      new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString();
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    const bare = await call(t.url, 'POST', '/oauth/token', { body: form(reg.body.refresh_token), headers });
    assert.equal(bare.status, 400);
    assert.equal(bare.body.error, 'invalid_grant');
    const wrongUrl = await dpopCall(t, key, 'POST', '/oauth/token', {
      body: form(reg.body.refresh_token),
      headers,
      proof: { htu: `${PUBLIC}/auth/refresh` },
    });
    assert.equal(wrongUrl.body.error, 'invalid_dpop_proof');
    const ok = await dpopCall(t, key, 'POST', '/oauth/token', {
      body: form(reg.body.refresh_token),
      headers,
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.token_type, 'DPoP');
    // An unbound session refreshed at /oauth/token with a proof is bound from then on.
    const plain = await call(t.url, 'POST', '/auth/login', {
      json: { email: reg.email, password: PASSWORD },
    });
    const upgraded = await dpopCall(t, key, 'POST', '/oauth/token', {
      body: form(plain.body.refresh_token),
      headers,
    });
    assert.equal(upgraded.body.token_type, 'DPoP');
    const after = await call(t.url, 'POST', '/oauth/token', {
      body: form(upgraded.body.refresh_token),
      headers,
    });
    assert.equal(after.body.error, 'invalid_grant');
  });
});

describe('DPoP with cookie transport', () => {
  it('binds a browser session and refuses the refresh cookie without a proof by the key', async () => {
    const t = await serverWith();
    const key = await createTestDpopKey();
    const email = `c${Math.random().toString(36).slice(2)}@example.com`;
    const browser = { origin: ALLOWED_ORIGIN, 'tessera-transport': 'cookie' };
    const reg = await dpopCall(t, key, 'POST', '/auth/register', {
      json: { email, password: PASSWORD },
      headers: browser,
    });
    assert.equal(reg.status, 201, reg.text);
    assert.equal(reg.body.token_type, 'DPoP');
    const cookie = /tessera_refresh=([^;]*)/.exec(reg.headers.getSetCookie().join('\n'))?.[1];
    assert.ok(cookie);
    const withCookie = { ...browser, cookie: `tessera_refresh=${cookie}` };
    const bare = await call(t.url, 'POST', '/auth/refresh', { json: {}, headers: withCookie });
    assert.equal(bare.status, 400);
    assert.equal(bare.body.error, 'invalid_grant');
    assert.ok(t.events.some((e) => e.type === 'session.dpop_mismatch'));
    const other = await dpopCall(t, await createTestDpopKey(), 'POST', '/auth/refresh', {
      json: {},
      headers: withCookie,
    });
    assert.equal(other.body.error, 'invalid_grant');
    const ok = await dpopCall(t, key, 'POST', '/auth/refresh', { json: {}, headers: withCookie });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.token_type, 'DPoP');
  });
});

describe('DPoP on bearer routes', () => {
  let t: TestServer;
  let key: TestDpopKey;
  before(async () => {
    t = await serverWith();
    key = await createTestDpopKey();
  });

  it('accepts Authorization: DPoP with a proof carrying ath; refuses the bound token as Bearer', async () => {
    const reg = await boundRegister(t, key);
    const token = reg.body.access_token as string;
    const me = await dpopCall(t, key, 'GET', '/auth/me', { dpopToken: token });
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body.email, reg.email);
    const sessions = await dpopCall(t, key, 'GET', '/auth/sessions', { dpopToken: token });
    assert.equal(sessions.status, 200);
    const asBearer = await call(t.url, 'GET', '/auth/me', { token });
    assert.equal(asBearer.status, 401);
    assert.equal(asBearer.body.error, 'invalid_token');
    assert.match(asBearer.body.error_description, /DPoP-bound/);
  });

  it('answers each bad proof with a 401 DPoP challenge', async () => {
    const reg = await boundRegister(t, key);
    const token = reg.body.access_token as string;
    const good = await dpopCall(t, key, 'GET', '/auth/me', { dpopToken: token });
    assert.equal(good.status, 200);
    const otherToken = (await boundRegister(t, key)).body.access_token as string;
    const { computeDpopAth } = await import('@tessera/protocol');
    const cases: [string, ProofOptions, string][] = [
      ['replayed proof', { proof: good.proof as string }, 'invalid_dpop_proof'],
      ['wrong ath', { ath: await computeDpopAth(otherToken) }, 'invalid_dpop_proof'],
      ['other method', { htm: 'POST' }, 'invalid_dpop_proof'],
      ['other URL', { htu: `${PUBLIC}/auth/sessions` }, 'invalid_dpop_proof'],
      ['stale iat', { iat: Math.floor(t.clock.now() / 1000) - 120 }, 'invalid_dpop_proof'],
      ['other key', { key: await createTestDpopKey() }, 'invalid_dpop_proof'],
      ['no proof', { none: true }, 'invalid_dpop_proof'],
    ];
    for (const [name, proof, error] of cases) {
      const response = await dpopCall(t, key, 'GET', '/auth/me', { dpopToken: token, proof });
      assert.equal(response.body.error, error, name);
      assertChallenge(response, error);
    }
    // An unbound token presented as DPoP is refused too.
    const plain = await call(t.url, 'POST', '/auth/login', {
      json: { email: reg.email, password: PASSWORD },
    });
    const unbound = await dpopCall(t, key, 'GET', '/auth/me', { dpopToken: plain.body.access_token });
    assertChallenge(unbound, 'invalid_token');
  });

  it('ends the session with logout (DPoP-presented access token) and logout-all', async () => {
    const reg = await boundRegister(t, key);
    const out = await dpopCall(t, key, 'POST', '/auth/logout', {
      json: {},
      dpopToken: reg.body.access_token,
    });
    assert.equal(out.status, 204, out.text);
    const dead = await dpopCall(t, key, 'GET', '/auth/me', { dpopToken: reg.body.access_token });
    assertChallenge(dead, 'invalid_token');
    const second = await boundRegister(t, key);
    const all = await dpopCall(t, key, 'POST', '/auth/logout-all', {
      json: {},
      dpopToken: second.body.access_token,
    });
    assert.equal(all.status, 204, all.text);
  });

  it('lets allowed origins send DPoP and read DPoP-Nonce (CORS)', async () => {
    const preflight = await call(t.url, 'OPTIONS', '/auth/refresh', {
      headers: { origin: ALLOWED_ORIGIN, 'access-control-request-headers': 'dpop' },
    });
    assert.equal(preflight.status, 204);
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /\bDPoP\b/);
    const reg = await boundRegister(t, key);
    const me = await dpopCall(t, key, 'GET', '/auth/me', {
      dpopToken: reg.body.access_token,
      headers: { origin: ALLOWED_ORIGIN },
    });
    assert.equal(me.status, 200);
    assert.match(me.headers.get('access-control-expose-headers') ?? '', /dpop-nonce/i);
  });

  it('introspection reports the binding; metadata lists the proof algorithms', async () => {
    const reg = await boundRegister(t, key);
    const introspected = await call(t.url, 'POST', '/oauth/introspect', {
      json: { token: reg.body.access_token },
    });
    assert.equal(introspected.body.active, true);
    assert.deepEqual(introspected.body.cnf, { jkt: key.jkt });
    assert.equal(introspected.body.token_type, 'DPoP');
    const metadata = await call(t.url, 'GET', '/.well-known/oauth-authorization-server');
    assert.deepEqual(metadata.body.dpop_signing_alg_values_supported, ['ES256', 'EdDSA', 'Ed25519', 'RS256']);
  });
});

describe('every policy binds its token', () => {
  for (const policy of POLICY_NAMES) {
    it(policy, async () => {
      const t = await serverWith({ TESSERA_POLICY: policy });
      const key = await createTestDpopKey();
      const reg = await boundRegister(t, key);
      assert.equal(reg.body.token_type, 'DPoP');
      const token = reg.body.access_token as string;
      assert.deepEqual(decodeJwt(token).cnf, { jkt: key.jkt });
      assert.equal((await dpopCall(t, key, 'GET', '/auth/me', { dpopToken: token })).status, 200);
      assert.equal((await call(t.url, 'GET', '/auth/me', { token })).status, 401);
      const ttl = reg.body.expires_in as number;
      if (policy === 'rotating-refresh') {
        const bare = await call(t.url, 'POST', '/auth/refresh', {
          json: { refresh_token: reg.body.refresh_token },
        });
        assert.equal(bare.body.error, 'invalid_grant');
      } else if (policy === 'soft-expiry') {
        t.clock.advance((ttl - 1) * 1000);
        const bare = await dpopCall(t, key, 'POST', '/auth/renew', {
          json: {},
          bearer: token,
          proof: { none: true },
        });
        assert.equal(bare.status, 400, bare.text);
        assert.equal(bare.body.error, 'invalid_grant');
        const renewed = await dpopCall(t, key, 'POST', '/auth/renew', { json: {}, dpopToken: token });
        assert.equal(renewed.status, 200, renewed.text);
        assert.equal(renewed.body.token_type, 'DPoP');
      } else if (policy === 'expired-token-exchange') {
        t.clock.advance((ttl + 1) * 1000);
        const session = reg.body.session_token as string;
        const renewed = await dpopCall(t, key, 'POST', '/auth/refresh', {
          json: { session_token: session },
          dpopToken: token,
        });
        assert.equal(renewed.status, 200, renewed.text);
        assert.equal(renewed.body.token_type, 'DPoP');
        assert.deepEqual(decodeJwt(renewed.body.access_token).cnf, { jkt: key.jkt });
      } else if (policy === 'sliding-single-token') {
        t.clock.advance(Math.ceil(ttl * 0.6) * 1000);
        const slid = await dpopCall(t, key, 'GET', '/auth/me', { dpopToken: token });
        const renewed = slid.headers.get('tessera-access-token');
        assert.ok(renewed);
        assert.deepEqual(decodeJwt(renewed).cnf, { jkt: key.jkt });
      }
    });
  }
});

describe('DPoP settings', () => {
  it('TESSERA_DPOP_NONCE=on asks for a nonce, hands it out, and accepts it', async () => {
    const t = await serverWith({ TESSERA_DPOP_NONCE: 'on' });
    const key = await createTestDpopKey();
    const email = `n${Math.random().toString(36).slice(2)}@example.com`;
    const first = await dpopCall(t, key, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
    assert.equal(first.status, 400);
    assert.equal(first.body.error, 'use_dpop_nonce');
    const nonce = first.headers.get('dpop-nonce');
    assert.ok(nonce);
    const reg = await dpopCall(t, key, 'POST', '/auth/register', {
      json: { email, password: PASSWORD },
      proof: { nonce },
    });
    assert.equal(reg.status, 201, reg.text);
    assert.equal(reg.headers.get('dpop-nonce'), nonce);
    const me = await dpopCall(t, key, 'GET', '/auth/me', { dpopToken: reg.body.access_token });
    assertChallenge(me, 'use_dpop_nonce');
    assert.equal(me.headers.get('dpop-nonce'), nonce);
    t.clock.advance(600_000);
    const stale = await dpopCall(t, key, 'GET', '/auth/me', {
      dpopToken: reg.body.access_token,
      proof: { nonce },
    });
    assertChallenge(stale, 'use_dpop_nonce');
    const fresh = stale.headers.get('dpop-nonce');
    assert.ok(fresh && fresh !== nonce);
    const ok = await dpopCall(t, key, 'GET', '/auth/me', {
      dpopToken: reg.body.access_token,
      proof: { nonce: fresh },
    });
    assert.equal(ok.status, 200, ok.text);
  });

  it('TESSERA_DPOP=required refuses a token request without a proof; off ignores proofs', async () => {
    const required = await serverWith({ TESSERA_DPOP: 'required' });
    const key = await createTestDpopKey();
    const email = `r${Math.random().toString(36).slice(2)}@example.com`;
    const bare = await call(required.url, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
    assert.equal(bare.status, 400);
    assert.equal(bare.body.error, 'invalid_dpop_proof');
    assert.equal(
      (await dpopCall(required, key, 'POST', '/auth/register', { json: { email, password: PASSWORD } }))
        .status,
      201,
    );

    const off = await serverWith({ TESSERA_DPOP: 'off' });
    const reg = await dpopCall(off, key, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
    assert.equal(reg.body.token_type, 'Bearer');
    const metadata = await call(off.url, 'GET', '/.well-known/oauth-authorization-server');
    assert.equal(metadata.body.dpop_signing_alg_values_supported, undefined);
  });
});

describe("requireSession: the app's own routes", () => {
  it('accepts a bound token with Authorization: DPoP and a proof for the public URL; refuses it as Bearer', async () => {
    const { requireSession } = await import('@tessera/server');
    const { createEngineFixture } = await import('@tessera/core/testing');
    const f = await createEngineFixture();
    const key = await createTestDpopKey();
    await f.engine.register({ email: 'app@example.com', password: PASSWORD });
    const tokens = await f.engine.login({ email: 'app@example.com', password: PASSWORD, dpopJkt: key.jkt });
    // The app is reached at a public origin; the request arrives at another address (a proxy).
    const guard = requireSession(f.engine, { publicUrl: 'https://app.example' });
    const request = async (proof: ProofOptions & { scheme?: string } = {}) => {
      const headers: Record<string, string> = {
        authorization: `${proof.scheme ?? 'DPoP'} ${tokens.accessToken}`,
      };
      if (!proof.none) {
        headers.dpop = await signTestDpopProof(proof.key ?? key, {
          htm: proof.htm ?? 'GET',
          htu: proof.htu ?? 'https://app.example/api/orders',
          iat: Math.floor(f.clock.now() / 1000),
          accessToken: tokens.accessToken,
        });
      }
      return guard(new Request('http://10.0.0.7:3000/api/orders?page=2', { headers }));
    };
    const ok = await request();
    assert.ok(!(ok instanceof Response));
    assert.equal(ok.session.id, tokens.sessionId);
    for (const [name, proof, error] of [
      ['as Bearer', { scheme: 'Bearer', none: true }, 'invalid_token'],
      ['no proof', { none: true }, 'invalid_dpop_proof'],
      ['internal URL', { htu: 'http://10.0.0.7:3000/api/orders' }, 'invalid_dpop_proof'],
      ['other key', { key: await createTestDpopKey() }, 'invalid_dpop_proof'],
    ] as const) {
      const refused = await request(proof);
      assert.ok(refused instanceof Response, name);
      assert.equal(refused.status, 401, name);
      assert.equal(((await refused.json()) as { error: string }).error, error, name);
    }
    await f.engine.close();
  });
});

describe('DPoP with an external sign-in (ID token)', () => {
  it('binds sessions from /auth/login/external and the /oauth/token exchange grant', async () => {
    const { startTestIdentityProvider } = await import('@tessera/core/testing');
    const { ID_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } = await import('@tessera/core');
    const idp = await startTestIdentityProvider('my-app');
    try {
      const t = await serverWith({
        TESSERA_TRUSTED_ISSUERS: JSON.stringify([{ issuer: idp.issuer, audience: 'my-app' }]),
      });
      const key = await createTestDpopKey();
      const idToken = () => idp.sign({ sub: 'ext-ada' }, { nowMs: t.clock.now() });
      const external = await dpopCall(t, key, 'POST', '/auth/login/external', {
        json: { subject_token: await idToken(), subject_token_type: ID_TOKEN_TYPE },
      });
      assert.equal(external.status, 200, external.text);
      assert.equal(external.body.token_type, 'DPoP');
      assert.deepEqual(decodeJwt(external.body.access_token).cnf, { jkt: key.jkt });
      const badProof = await dpopCall(t, key, 'POST', '/auth/login/external', {
        json: { subject_token: await idToken(), subject_token_type: ID_TOKEN_TYPE },
        proof: { htu: `${PUBLIC}/oauth/token` },
      });
      assert.equal(badProof.body.error, 'invalid_dpop_proof');
      const form = new URLSearchParams({
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: await idToken(),
        subject_token_type: ID_TOKEN_TYPE,
      }).toString();
      const exchanged = await dpopCall(t, key, 'POST', '/oauth/token', {
        body: form,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(exchanged.status, 200, exchanged.text);
      assert.equal(exchanged.body.token_type, 'DPoP');
      const bare = await call(t.url, 'POST', '/oauth/token', {
        body: new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: exchanged.body.refresh_token,
        }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(bare.body.error, 'invalid_grant');
    } finally {
      await idp.close();
    }
  });
});
