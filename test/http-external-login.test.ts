import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ID_TOKEN_TYPE, REFRESH_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT } from '@tessera/core';
import { startTestIdentityProvider, type TestIdentityProvider } from '@tessera/core/testing';
import pg from 'pg';
import { sendBadJson, usersState } from './helpers/bad-input.ts';
import { ALLOWED_ORIGIN, call, startTestServer, type TestServer } from './helpers/server.ts';
import { sharedPostgresProblem, skipReason } from './helpers/services.ts';

const AUDIENCE = 'my-app';
let idp: TestIdentityProvider;
let stranger: TestIdentityProvider;
let t: TestServer;

before(async () => {
  idp = await startTestIdentityProvider(AUDIENCE);
  stranger = await startTestIdentityProvider(AUDIENCE);
  t = await startTestServer({
    TESSERA_TRUSTED_ISSUERS: JSON.stringify([{ issuer: idp.issuer, audience: AUDIENCE }]),
  });
});
after(async () => {
  await t.close();
  await idp.close();
  await stranger.close();
});

const sign = (claims: Record<string, unknown>, options: Parameters<TestIdentityProvider['sign']>[1] = {}) =>
  idp.sign(claims, { nowMs: t.clock.now(), ...options });

function external(base: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return call(base, 'POST', '/auth/login/external', { json: body, headers });
}

function tokenExchange(base: string, params: Record<string, string>) {
  return call(base, 'POST', '/oauth/token', {
    body: new URLSearchParams(params).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
}

describe('POST /auth/login/external', () => {
  it('signs in with an ID token (body transport); the session refreshes, rotates, is listed and revoked', async () => {
    const idToken = await sign({ sub: 'ada', email: 'ada@example.com', email_verified: true, nonce: 'n-42' });
    const first = await external(
      t.url,
      {
        subject_token: idToken,
        subject_token_type: ID_TOKEN_TYPE,
        nonce: 'n-42',
        device_name: 'Ada’s phone',
      },
      { 'user-agent': 'MyApp/1.0 (iPhone)' },
    );
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get('cache-control'), 'no-store');
    assert.equal(first.body.token_type, 'Bearer');
    assert.equal(first.body.issued_token_type, REFRESH_TOKEN_TYPE);
    assert.match(first.body.refresh_token, /^tsr_/);
    const me = await call(t.url, 'GET', '/auth/me', { token: first.body.access_token });
    assert.equal(me.body.email, 'ada@example.com');
    const claims = JSON.parse(Buffer.from(first.body.access_token.split('.')[1], 'base64url').toString());
    assert.deepEqual(claims.amr, ['ext']);

    // The same identity maps to the same user every time.
    const second = await external(t.url, {
      subject_token: await sign({ sub: 'ada' }),
      subject_token_type: ID_TOKEN_TYPE,
    });
    assert.equal(second.status, 200, second.text);
    const sessions = await call(t.url, 'GET', '/auth/sessions', { token: second.body.access_token });
    assert.equal(sessions.body.sessions.length, 2);
    const phone = sessions.body.sessions.find((s: { id: string }) => s.id === first.body.session_id);
    assert.equal(phone.device_name, 'Ada’s phone');
    assert.equal(phone.user_agent, 'MyApp/1.0 (iPhone)');

    const rotated = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: first.body.refresh_token },
    });
    assert.equal(rotated.status, 200, rotated.text);
    assert.notEqual(rotated.body.refresh_token, first.body.refresh_token);
    assert.equal(rotated.body.session_id, first.body.session_id);
    const revoked = await call(t.url, 'DELETE', `/auth/sessions/${first.body.session_id}`, {
      token: second.body.access_token,
    });
    assert.equal(revoked.status, 204);
    const after = await call(t.url, 'POST', '/auth/refresh', {
      json: { refresh_token: rotated.body.refresh_token },
    });
    assert.equal(after.status, 400);
    assert.equal(after.body.error, 'invalid_grant');
    assert.equal(after.body.session_ended, 'revoked');
  });

  it('uses the refresh cookie for a browser from an allowed origin, and refuses another origin', async () => {
    const before = await usersState(t);
    const foreign = await external(
      t.url,
      { subject_token: await sign({ sub: 'web-user' }), subject_token_type: ID_TOKEN_TYPE },
      { origin: 'https://evil.example' },
    );
    assert.equal(foreign.status, 403);
    assert.equal(foreign.body.error, 'forbidden_origin');
    assert.deepEqual(await usersState(t), before);
    const browser = await external(
      t.url,
      { subject_token: await sign({ sub: 'web-user' }), subject_token_type: ID_TOKEN_TYPE },
      { origin: ALLOWED_ORIGIN, 'tessera-transport': 'cookie' },
    );
    assert.equal(browser.status, 200, browser.text);
    assert.equal(browser.body.refresh_token, undefined);
    assert.match(browser.headers.get('set-cookie') ?? '', /^tessera_refresh=tsr_.*HttpOnly/);
  });

  it('refuses ID tokens it must not trust with a 4xx and creates nothing', async () => {
    await external(t.url, { subject_token: await sign({ sub: 'kept' }), subject_token_type: ID_TOKEN_TYPE });
    const before = await usersState(t);
    const unpublished = await idp.newKey();
    const cases: Array<[string, Record<string, unknown>, string]> = [
      [
        'another key',
        { subject_token: await sign({ sub: 'mallory' }, { key: unpublished }) },
        'invalid_grant',
      ],
      [
        'another audience',
        { subject_token: await sign({ sub: 'mallory', aud: 'other-app' }) },
        'invalid_grant',
      ],
      [
        'an untrusted issuer',
        { subject_token: await stranger.sign({ sub: 'mallory' }, { nowMs: t.clock.now() }) },
        'invalid_grant',
      ],
      [
        'expired',
        { subject_token: await sign({ sub: 'mallory' }, { nowMs: t.clock.now() - 3_600_000 }) },
        'invalid_grant',
      ],
      [
        'a wrong nonce',
        { subject_token: await sign({ sub: 'mallory', nonce: 'theirs' }), nonce: 'mine' },
        'invalid_grant',
      ],
      [
        'replayed with a wrong nonce',
        { subject_token: await sign({ sub: 'kept', nonce: 'n1' }), nonce: 'n2' },
        'invalid_grant',
      ],
      ['garbage', { subject_token: 'garbage' }, 'invalid_grant'],
      [
        'another token type',
        {
          subject_token: await sign({ sub: 'mallory' }),
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        },
        'invalid_request',
      ],
    ];
    for (const [label, body, code] of cases) {
      const response = await external(t.url, { subject_token_type: ID_TOKEN_TYPE, ...body });
      assert.ok(response.status >= 400 && response.status < 500, `${label}: ${response.status}`);
      assert.equal(response.body.error, code, `${label}: ${response.text}`);
      assert.equal(response.status, 400, label);
    }
    assert.deepEqual(await usersState(t), before);
  });

  it('answers every kind of bad input with a clean 4xx and changes nothing', async () => {
    const before = await usersState(t);
    await sendBadJson(t.url, {
      method: 'POST',
      path: '/auth/login/external',
      fields: {
        subject_token: await sign({ sub: 'bad-input' }),
        subject_token_type: ID_TOKEN_TYPE,
        nonce: 'n',
        device_name: 'Phone',
      },
      optional: ['nonce', 'device_name'],
    });
    assert.deepEqual(await usersState(t), before);
  });

  it('maps 20 parallel first sign-ins of one identity to one user', async () => {
    const responses = await Promise.all(
      Array.from({ length: 20 }, async () =>
        external(t.url, {
          subject_token: await sign({ sub: 'crowd', email: 'crowd@example.com', email_verified: true }),
          subject_token_type: ID_TOKEN_TYPE,
        }),
      ),
    );
    assert.deepEqual(
      responses.map((r) => r.status),
      Array(20).fill(200),
    );
    const subjects = new Set(
      responses.map(
        (r) => JSON.parse(Buffer.from(r.body.access_token.split('.')[1], 'base64url').toString()).sub,
      ),
    );
    assert.equal(subjects.size, 1);
    const user = await t.server.store.findUserByIdentity({ issuer: idp.issuer, subject: 'crowd' });
    assert.equal(user?.email, 'crowd@example.com');
    assert.equal((await t.server.store.listLiveSessions(user?.id ?? '', t.clock.now())).length, 20);
  });
});

describe('POST /oauth/token with the token-exchange grant (RFC 8693)', () => {
  it('answers a token response with issued_token_type, body transport only', async () => {
    const response = await tokenExchange(t.url, {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: await sign({ sub: 'cli-user' }),
      subject_token_type: ID_TOKEN_TYPE,
      scope: 'ignored',
      client_id: 'ignored',
    });
    assert.equal(response.status, 200, response.text);
    assert.equal(response.body.issued_token_type, REFRESH_TOKEN_TYPE);
    assert.match(response.body.refresh_token, /^tsr_/);
    assert.equal(response.headers.get('set-cookie'), null);
    const refreshed = await tokenExchange(t.url, {
      grant_type: 'refresh_token',
      refresh_token: response.body.refresh_token,
    });
    assert.equal(refreshed.status, 200);
  });

  it('answers RFC 6749 §5.2 / RFC 8693 §2.2.2 errors and changes nothing', async () => {
    const good = await sign({ sub: 'oauth-user' });
    const before = await usersState(t);
    const cases: Array<[string, Record<string, string>, string]> = [
      ['no subject_token', { subject_token_type: ID_TOKEN_TYPE }, 'invalid_request'],
      ['no subject_token_type', { subject_token: good }, 'invalid_request'],
      [
        'another subject_token_type',
        { subject_token: good, subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' },
        'invalid_request',
      ],
      [
        'an actor token',
        {
          subject_token: good,
          subject_token_type: ID_TOKEN_TYPE,
          actor_token: good,
          actor_token_type: ID_TOKEN_TYPE,
        },
        'invalid_request',
      ],
      [
        'another requested_token_type',
        {
          subject_token: good,
          subject_token_type: ID_TOKEN_TYPE,
          requested_token_type: 'urn:ietf:params:oauth:token-type:saml2',
        },
        'invalid_request',
      ],
      [
        'another audience',
        { subject_token: good, subject_token_type: ID_TOKEN_TYPE, audience: 'https://other.example' },
        'invalid_target',
      ],
      [
        'a bad token',
        { subject_token: await sign({ sub: 'x', aud: 'other' }), subject_token_type: ID_TOKEN_TYPE },
        'invalid_grant',
      ],
      [
        'an untrusted issuer',
        {
          subject_token: await stranger.sign({ sub: 'x' }, { nowMs: t.clock.now() }),
          subject_token_type: ID_TOKEN_TYPE,
        },
        'invalid_grant',
      ],
    ];
    for (const [label, params, code] of cases) {
      const response = await tokenExchange(t.url, { grant_type: TOKEN_EXCHANGE_GRANT, ...params });
      assert.equal(response.status, 400, `${label}: ${response.text}`);
      assert.equal(response.body.error, code, label);
    }
    const unsupported = await tokenExchange(t.url, {
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    });
    assert.equal(unsupported.body.error, 'unsupported_grant_type');
    assert.deepEqual(await usersState(t), before);
  });

  it('answers a disabled account with invalid_grant here (RFC 6749 §5.2), account_disabled on /auth', async () => {
    const first = await tokenExchange(t.url, {
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: await sign({ sub: 'to-disable' }),
      subject_token_type: ID_TOKEN_TYPE,
    });
    const userId = JSON.parse(Buffer.from(first.body.access_token.split('.')[1], 'base64url').toString()).sub;
    await t.server.engine.updateUser(userId, { disabled: true });
    const params = { subject_token: await sign({ sub: 'to-disable' }), subject_token_type: ID_TOKEN_TYPE };
    const oauth = await tokenExchange(t.url, { grant_type: TOKEN_EXCHANGE_GRANT, ...params });
    assert.equal(oauth.status, 400);
    assert.equal(oauth.body.error, 'invalid_grant');
    const auth = await external(t.url, params);
    assert.equal(auth.status, 403);
    assert.equal(auth.body.error, 'account_disabled');
  });

  it('lists the grant in the RFC 8414 metadata only when an issuer is trusted', async () => {
    const metadata = await call(t.url, 'GET', '/.well-known/oauth-authorization-server');
    assert.deepEqual(metadata.body.grant_types_supported, ['refresh_token', TOKEN_EXCHANGE_GRANT]);
    const plain = await startTestServer();
    try {
      const none = await call(plain.url, 'GET', '/.well-known/oauth-authorization-server');
      assert.deepEqual(none.body.grant_types_supported, ['refresh_token']);
      const refused = await tokenExchange(plain.url, {
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: await sign({ sub: 'x' }),
        subject_token_type: ID_TOKEN_TYPE,
      });
      assert.equal(refused.body.error, 'unsupported_grant_type');
      const login = await external(plain.url, {
        subject_token: await sign({ sub: 'x' }),
        subject_token_type: ID_TOKEN_TYPE,
      });
      assert.equal(login.body.error, 'invalid_grant');
      assert.deepEqual(await usersState(plain), []);
    } finally {
      await plain.close();
    }
  });

  it('is rate limited per identity like login', async () => {
    const limited = await startTestServer({
      TESSERA_RATE_LIMIT: 'on',
      TESSERA_TRUSTED_ISSUERS: JSON.stringify([{ issuer: idp.issuer, audience: AUDIENCE }]),
    });
    try {
      const statuses = [];
      for (let i = 0; i < 11; i += 1) {
        const response = await external(limited.url, {
          subject_token: await idp.sign({ sub: 'busy' }, { nowMs: limited.clock.now() }),
          subject_token_type: ID_TOKEN_TYPE,
        });
        statuses.push(response.status);
        if (response.status === 429) assert.ok(Number(response.headers.get('retry-after')) >= 1);
      }
      assert.deepEqual(statuses, [...Array(10).fill(200), 429]);
    } finally {
      await limited.close();
    }
  });
});

const pgSkip = skipReason(sharedPostgresProblem());
describe('over PostgreSQL', { skip: pgSkip }, () => {
  it('maps 20 parallel first sign-ins of one identity to one user', async () => {
    const schema = `byo_${randomBytes(6).toString('hex')}`;
    const url = 'postgres://postgres@127.0.0.1:5432/test';
    const server = await startTestServer({
      TESSERA_DATABASE_URL: `${url}?schema=${schema}`,
      TESSERA_TRUSTED_ISSUERS: JSON.stringify([{ issuer: idp.issuer, audience: AUDIENCE }]),
    });
    try {
      const responses = await Promise.all(
        Array.from({ length: 20 }, async () =>
          external(server.url, {
            subject_token: await idp.sign(
              { sub: 'pg-crowd', email: 'pg-crowd@example.com', email_verified: true },
              { nowMs: server.clock.now() },
            ),
            subject_token_type: ID_TOKEN_TYPE,
          }),
        ),
      );
      assert.deepEqual(
        responses.map((r) => r.status),
        Array(20).fill(200),
      );
      assert.equal((await server.server.store.listUsers(null, 100)).length, 1);
    } finally {
      await server.close();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  });
});
