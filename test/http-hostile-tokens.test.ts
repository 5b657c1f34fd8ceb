import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { call, PASSWORD, registerUser, startTestServer, type TestServer } from './helpers/server.ts';

let t: TestServer;
let stranger: TestServer;
let user: Awaited<ReturnType<typeof registerUser>>;
before(async () => {
  t = await startTestServer();
  // Another issuer/audience signs perfectly valid tokens of its own.
  stranger = await startTestServer({ TESSERA_ISSUER: 'http://evil.example', TESSERA_AUDIENCE: 'other-api' });
  user = await registerUser(t.url);
});
after(async () => {
  await t.close();
  await stranger.close();
});

const BEARER_ROUTES: Array<[string, string, unknown?]> = [
  ['POST', '/auth/logout-all'],
  ['GET', '/auth/sessions'],
  ['DELETE', '/auth/sessions/abc'],
  ['POST', '/auth/password', { current_password: PASSWORD, new_password: 'another long passphrase' }],
  ['GET', '/auth/me'],
  ['PATCH', '/auth/me', { name: 'Mallory' }],
  ['GET', '/auth/mfa'],
  ['POST', '/auth/mfa/totp/enroll', {}],
  ['POST', '/auth/mfa/totp/confirm', { code: '123456' }],
  ['DELETE', '/auth/mfa/totp', { code: '123456' }],
  ['POST', '/auth/mfa/recovery-codes', {}],
  ['POST', '/auth/reauthenticate', { password: PASSWORD }],
];

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

async function hostileTokens(): Promise<Array<[string, string]>> {
  const [h, p, s] = user.access_token.split('.') as [string, string, string];
  const header = JSON.parse(Buffer.from(h, 'base64url').toString());
  const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
  const jwks = (await call(t.url, 'GET', '/.well-known/jwks.json')).body;
  const foreign = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const signForeign = (claims: Record<string, unknown>, hdr: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader(hdr as { alg: string }).sign(foreign.privateKey);
  const other = await registerUser(stranger.url);
  const reSign = (patch: Record<string, unknown>) => `${b64({ ...header, ...patch })}.${p}.${s}`;
  return [
    ['alg none', `${b64({ ...header, alg: 'none' })}.${p}.`],
    ['alg none with a signature', `${b64({ ...header, alg: 'none' })}.${p}.${s}`],
    [
      'HS256 signed with the public JWK',
      await new SignJWT(payload)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })
        .sign(new TextEncoder().encode(JSON.stringify(jwks.keys[0]))),
    ],
    ['a foreign key with our kid', await signForeign(payload, header)],
    [
      'a foreign key in the jwk header',
      await signForeign(payload, { ...header, jwk: await exportJWK(foreign.publicKey) }),
    ],
    ['a garbage kid', await signForeign(payload, { ...header, kid: 'garbage' })],
    ['a non-string kid', reSign({ kid: 42 })],
    ['typ JWT', reSign({ typ: 'JWT' })],
    ['a tampered payload', `${h}.${b64({ ...payload, roles: ['admin'] })}.${s}`],
    ['a wrong issuer and audience', other.access_token],
    ['a refresh token', user.refresh_token],
  ];
}

describe('bearer routes (RFC 6750 §3.1)', () => {
  it('challenge without an error code when no token is sent, including other schemes', async () => {
    for (const [method, path, json] of BEARER_ROUTES) {
      for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }]) {
        const response = await call(t.url, method, path, { ...(json ? { json } : {}), headers });
        assert.equal(response.status, 401, `${method} ${path}`);
        assert.equal(response.headers.get('www-authenticate'), 'Bearer realm="tessera"');
      }
    }
  });

  it('answer a malformed Authorization header with 400 invalid_request', async () => {
    for (const [method, path, json] of BEARER_ROUTES) {
      for (const authorization of [
        'Bearer',
        'Bearer    ',
        'Bearer a b',
        'Bearer ###',
        `Bearer ${'a'.repeat(9000)}`,
      ]) {
        const response = await call(t.url, method, path, {
          ...(json ? { json } : {}),
          headers: { authorization },
        });
        assert.equal(response.status, 400, `${method} ${path} ${authorization.slice(0, 20)}`);
        assert.equal(response.body.error, 'invalid_request');
        assert.match(response.headers.get('www-authenticate') ?? '', /error="invalid_request"/);
      }
    }
  });

  it('answer every hostile token with 401 invalid_token and change nothing', async () => {
    const before = await t.server.store.findSession(user.session_id);
    for (const [name, token] of await hostileTokens()) {
      for (const [method, path, json] of BEARER_ROUTES) {
        const response = await call(t.url, method, path, { ...(json ? { json } : {}), token });
        assert.equal(response.status, 401, `${name} at ${method} ${path}: ${response.text}`);
        assert.equal(response.body.error, 'invalid_token');
        assert.match(
          response.headers.get('www-authenticate') ?? '',
          /^Bearer realm="tessera", error="invalid_token", error_description="[^"]+"$/,
        );
      }
    }
    assert.deepEqual(await t.server.store.findSession(user.session_id), before);
    assert.equal((await call(t.url, 'GET', '/auth/me', { token: user.access_token })).status, 200);
  });

  it('refuses an expired token (past exp + leeway) and a revoked session’s token at once', async () => {
    const other = await registerUser(t.url);
    t.clock.advance(602_000);
    const expired = await call(t.url, 'GET', '/auth/me', { token: other.access_token });
    assert.equal(expired.status, 401);
    assert.match(expired.headers.get('www-authenticate') ?? '', /expired/);
    const fresh = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: other.refresh_token },
    });
    await call(t.url, 'POST', '/auth/logout', { json: { refresh_token: fresh.body.refresh_token } });
    const revoked = await call(t.url, 'GET', '/auth/me', { token: fresh.body.access_token });
    assert.equal(revoked.status, 401);
    assert.equal(revoked.body.error, 'invalid_token');
  });
});

describe('hostile refresh tokens', () => {
  it('are invalid_grant at /auth/refresh and /oauth/token and change nothing', async () => {
    const victim = await registerUser(t.url);
    const before = await t.server.store.findSession(victim.session_id);
    const body = victim.refresh_token.slice(4);
    const flip = (i: number) => `tsr_${body.slice(0, i)}${body[i] === 'A' ? 'B' : 'A'}${body.slice(i + 1)}`;
    const sid = Buffer.from(victim.session_id, 'base64url');
    const wrongMac = `tsr_${Buffer.concat([sid, Buffer.from([0, 0, 0, 1]), Buffer.alloc(32, 9)]).toString('base64url')}`;
    for (const token of [
      `tsr_${'Q'.repeat(70)}`,
      'tsr_',
      flip(0),
      flip(40),
      flip(69),
      wrongMac,
      victim.access_token,
      'x'.repeat(500),
    ]) {
      const a = await call(t.url, 'POST', '/auth/refresh', { json: { refresh_token: token } });
      assert.equal(a.status, 400);
      assert.equal(a.body.error, 'invalid_grant');
      const b = await call(t.url, 'POST', '/oauth/token', {
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: token }).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      assert.equal(b.status, 400);
      assert.equal(b.body.error, 'invalid_grant');
    }
    assert.deepEqual(await t.server.store.findSession(victim.session_id), before);
  });
});
