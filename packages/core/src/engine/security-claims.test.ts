// Claims of docs/security.md that no other test proved, each against the real engine over a real SQLite
// file with an injected clock. test/security-doc.test.ts checks that the doc names these tests.
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { type JWK, SignJWT } from 'jose';
import { createManualClock } from '../clock.ts';
import { isTesseraError } from '../errors.ts';
import { createPasswordHasher } from '../password.ts';
import { createSqliteStore } from '../store/sqlite-store.ts';
import { createEngineFixture, enableTwoFactor, must, TEST_SECRET } from '../testing/engine-fixture.ts';
import { startTestIdentityProvider, type TestIdentityProvider } from '../testing/identity-provider.ts';
import { parseRefreshToken, refreshTokenMacMatches } from '../tokens/refresh-token.ts';
import { unseal } from '../tokens/sealed-box.ts';
import { deriveKeys } from '../tokens/secret.ts';
import { totpCode } from '../totp.ts';
import { ID_TOKEN_TYPE } from './id-token-exchange.ts';
import { DEFAULT_RATE_LIMITS } from './rate-limits.ts';

const PASSWORD = 'correct horse battery staple';
const dir = mkdtempSync(join(tmpdir(), 'tessera-security-claims-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
function newDatabase(): string {
  files += 1;
  return join(dir, `claims-${files}.db`);
}

async function rejectsWith(promise: Promise<unknown>, code: string, label: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isTesseraError(error), `${label}: ${String(error)}`);
    assert.equal(error.code, code, `${label}: ${error.message}`);
    return true;
  });
}

/** The bytes of an SQLite database and its WAL, as one latin1 string to search. */
function databaseBytes(path: string): string {
  return [path, `${path}-wal`]
    .filter((file) => existsSync(file))
    .map((file) => readFileSync(file).toString('latin1'))
    .join('');
}

describe('token checks beyond the signature', () => {
  it('refuses a token signed with the server’s own key that breaks a claim rule', async () => {
    const { engine, store, clock } = await createEngineFixture({ clockLeewaySeconds: 2 });
    const ada = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const bob = await engine.register({ email: 'bob@example.com', password: PASSWORD });
    // The signing key as the server holds it: opened with the key derived from its secret.
    const [record] = await store.listSigningKeys();
    assert.ok(record);
    const jwk = JSON.parse(
      unseal(deriveKeys(TEST_SECRET).keyEncryptionKey, record.kid, record.privateJwkEncrypted),
    ) as JWK;
    const key = createPrivateKey({ key: jwk as never, format: 'jwk' });
    const header = JSON.parse(Buffer.from(ada.accessToken.split('.')[0] ?? '', 'base64url').toString());
    const claims = JSON.parse(Buffer.from(ada.accessToken.split('.')[1] ?? '', 'base64url').toString());
    const sign = (patch: Record<string, unknown>, headerPatch: Record<string, unknown> = {}) => {
      const payload: Record<string, unknown> = { ...claims, ...patch };
      for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
      return new SignJWT(payload).setProtectedHeader({ ...header, ...headerPatch }).sign(key);
    };
    const nowSeconds = Math.floor(clock.now() / 1000);
    // The control: the same key and claims pass, so each refusal below is the rule it names.
    await engine.authenticate(await sign({}));
    await engine.authenticate(await sign({ iat: nowSeconds + 2 }));
    const cases: Array<[string, Record<string, unknown>, Record<string, unknown>?]> = [
      ['typ JWT', {}, { typ: 'JWT' }],
      ['no typ', {}, { typ: undefined }],
      ['iat beyond the leeway in the future', { iat: nowSeconds + 3 }],
      ['another issuer', { iss: 'http://evil.example' }],
      ['another audience', { aud: 'some-other-api' }],
      ['no sub', { sub: undefined }],
      ['no jti', { jti: undefined }],
      ['no sid', { sid: undefined }],
      ['no ver', { ver: undefined }],
      ['the session of another user', { sid: bob.sessionId }],
      ['a session that does not exist', { sid: 'AAAAAAAAAAAAAAAAAAAAAA' }],
      ['an older token version', { ver: Number(claims.ver) - 1 }],
      ['a key named by jku', {}, { kid: 'elsewhere', jku: 'https://evil.example/jwks.json' }],
      ['a key named by x5u', {}, { kid: 'elsewhere', x5u: 'https://evil.example/cert.pem' }],
    ];
    for (const [label, patch, headerPatch] of cases) {
      const hdr = { ...headerPatch };
      if ('typ' in hdr && hdr.typ === undefined) {
        const { typ: _typ, ...rest } = header;
        const token = await new SignJWT(claims).setProtectedHeader(rest).sign(key);
        await rejectsWith(engine.authenticate(token), 'invalid_token', label);
        continue;
      }
      await rejectsWith(engine.authenticate(await sign(patch, hdr)), 'invalid_token', label);
    }
    // A disabled user's token, then an expired one (exp + leeway).
    await engine.updateUser(ada.userId, { disabled: true });
    await rejectsWith(engine.authenticate(ada.accessToken), 'invalid_token', 'a disabled user');
    clock.advance((600 + 2) * 1000);
    await rejectsWith(engine.authenticate(bob.accessToken), 'invalid_token', 'expired');
  });
});

describe('a stolen database', () => {
  it('holds no refresh token, no hash or MAC of one, no access token and no private key in the clear', async () => {
    const path = newDatabase();
    const store = createSqliteStore({ path });
    const { engine } = await createEngineFixture({ store });
    const issued: string[] = [];
    const first = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const second = await engine.refresh({ refreshToken: must(first.refreshToken) });
    const other = await engine.login({ email: 'ada@example.com', password: PASSWORD });
    for (const set of [first, second, other]) issued.push(must(set.refreshToken), set.accessToken);
    await engine.close();
    await store.close();
    const bytes = databaseBytes(path);
    assert.ok(bytes.includes('ada@example.com'), 'the scan reads the rows');
    for (const token of issued) {
      const forms = [token, createHash('sha256').update(token).digest('hex')];
      forms.push(createHash('sha256').update(token).digest('base64url'));
      forms.push(createHash('sha256').update(token).digest().toString('latin1'));
      const parsed = parseRefreshToken(token);
      if (parsed)
        forms.push(
          parsed.mac.toString('latin1'),
          parsed.mac.toString('hex'),
          parsed.mac.toString('base64url'),
        );
      else forms.push(token.split('.')[2] as string);
      for (const form of forms) assert.ok(!bytes.includes(form), `a form of an issued token is stored`);
    }
    const reopened = createSqliteStore({ path });
    for (const key of await reopened.listSigningKeys()) {
      const jwk = JSON.parse(
        unseal(deriveKeys(TEST_SECRET).keyEncryptionKey, key.kid, key.privateJwkEncrypted),
      );
      assert.ok(typeof jwk.d === 'string' && !bytes.includes(jwk.d), 'the private key is stored sealed');
    }
    await reopened.close();
  });

  it('without the secret: another secret opens no signing key and makes no refresh token’s MAC', async () => {
    const path = newDatabase();
    const clock = createManualClock();
    const store = createSqliteStore({ path });
    const { engine } = await createEngineFixture({ store, clock });
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const { salt } = must(await store.findSession(tokens.sessionId));
    const parsed = must(parseRefreshToken(must(tokens.refreshToken)));
    await engine.close();
    await store.close();
    const otherSecret = new Uint8Array(32).fill(7);
    // The MAC needs the key derived from the secret, whatever the database holds.
    assert.ok(refreshTokenMacMatches(deriveKeys(TEST_SECRET).refreshMacKey, parsed, salt));
    assert.ok(!refreshTokenMacMatches(deriveKeys(otherSecret).refreshMacKey, parsed, salt));
    // The engine refuses to start rather than sign with a key it cannot open.
    const thief = createSqliteStore({ path });
    await assert.rejects(
      createEngineFixture({ store: thief, clock, secret: otherSecret }),
      /TESSERA_SECRET differs/,
    );
    await thief.close();
  });

  it('the response to a stolen secret: delete the sealed keys, start on a new secret, revoke all', async () => {
    const path = newDatabase();
    const clock = createManualClock();
    const store = createSqliteStore({ path });
    const old = await createEngineFixture({ store, clock });
    const tokens = await old.engine.register({ email: 'ada@example.com', password: PASSWORD });
    const bob = await old.engine.register({ email: 'bob@example.com', password: PASSWORD });
    const { secret: totpSecret, recoveryCodes } = await enableTwoFactor(old, bob.accessToken);
    const { kid: oldKid } = (await old.engine.jwks()).keys[0] as { kid: string };
    await old.engine.close();
    await store.close();
    // What docs/security.md tells the operator to do, in order.
    const db = new DatabaseSync(path);
    db.exec('DELETE FROM signing_keys');
    db.close();
    const reopened = createSqliteStore({ path });
    const next = await createEngineFixture({ store: reopened, clock, secret: new Uint8Array(32).fill(7) });
    assert.ok(!(await next.engine.jwks()).keys.some((key) => key.kid === oldKid), 'the old key is gone');
    await rejectsWith(next.engine.authenticate(tokens.accessToken), 'invalid_token', 'an old access token');
    await rejectsWith(
      next.engine.refresh({ refreshToken: must(tokens.refreshToken) }),
      'invalid_grant',
      'an old refresh token',
    );
    await next.engine.emergencyRevokeAll();
    clock.advance(1000);
    const login = await next.engine.login({ email: 'ada@example.com', password: PASSWORD });
    await next.engine.authenticate(login.accessToken);
    // TOTP secrets were sealed under the old secret too: an authenticator code cannot be checked
    // (409 totp_unavailable, neither accepted nor called wrong), a recovery code still signs in,
    // turns two-factor off, and the user enrols again.
    const code = totpCode(totpSecret, clock.now());
    await rejectsWith(
      next.engine.login({ email: 'bob@example.com', password: PASSWORD, totp: code }),
      'totp_unavailable',
      'a code under the old secret',
    );
    const rescued = await next.engine.login({
      email: 'bob@example.com',
      password: PASSWORD,
      recoveryCode: recoveryCodes[0],
    });
    await next.engine.disableTotp(
      await next.engine.authenticate(rescued.accessToken),
      must(recoveryCodes[1]),
    );
    await next.engine.login({ email: 'bob@example.com', password: PASSWORD });
    await next.engine.close();
    await reopened.close();
  });
});

describe('a crash and the grace window', () => {
  /** Rotates on one engine, then "crashes" before answering, and restarts on the same file after `downMs`. */
  async function lostAnswer(downMs: number, reuseGraceSeconds?: number) {
    const path = newDatabase();
    const clock = createManualClock();
    const options = reuseGraceSeconds === undefined ? {} : { reuseGraceSeconds };
    const store = createSqliteStore({ path });
    const before = await createEngineFixture({ store, clock, ...options });
    const tokens = await before.engine.register({ email: 'ada@example.com', password: PASSWORD });
    const unanswered = await before.engine.refresh({ refreshToken: must(tokens.refreshToken) });
    await before.engine.close();
    await store.close();
    clock.advance(downMs);
    const reopened = createSqliteStore({ path });
    const after = await createEngineFixture({ store: reopened, clock, ...options });
    return { tokens, unanswered, after, close: () => after.engine.close().then(() => reopened.close()) };
  }

  it('a restart longer than the 10 s default turns the client’s retry into a reuse alarm', async () => {
    const { tokens, after, close } = await lostAnswer(11_000);
    assert.equal(after.engine.settings.reuseGraceSeconds, 10);
    await rejectsWith(
      after.engine.refresh({ refreshToken: must(tokens.refreshToken) }),
      'invalid_grant',
      'the retry with the predecessor',
    );
    assert.equal((await after.store.findSession(tokens.sessionId))?.revokeReason, 'reuse_detected');
    assert.ok(after.events.some((event) => event.type === 'session.reuse_detected'));
    await close();
  });

  it('a restart within the grace window answers the retry with the successor it lost', async () => {
    const short = await lostAnswer(9_000);
    const retried = await short.after.engine.refresh({ refreshToken: must(short.tokens.refreshToken) });
    assert.equal(retried.refreshToken, short.unanswered.refreshToken);
    assert.ok(!short.after.events.some((event) => event.type === 'session.reuse_detected'));
    await short.close();
    // A wider window (at most 300 s) absorbs a longer restart, at the cost of a longer silent replay.
    const wide = await lostAnswer(120_000, 300);
    const late = await wide.after.engine.refresh({ refreshToken: must(wide.tokens.refreshToken) });
    assert.equal(late.refreshToken, wide.unanswered.refreshToken);
    await wide.close();
  });
});

describe('fetches for ID tokens', () => {
  it('fetches nothing for an unlisted issuer, and follows no redirect from a listed one', async () => {
    const idp = await startTestIdentityProvider('tessera-app');
    const unlisted = await startTestIdentityProvider('tessera-app');
    // A listed issuer whose every URL redirects to the real provider's.
    const redirects: string[] = [];
    const redirector = createServer((request, response) => {
      redirects.push(request.url ?? '');
      response.writeHead(302, { location: `${idp.issuer}${request.url}` }).end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    const redirecting = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}`;
    try {
      const { engine, clock } = await createEngineFixture({
        trustedIssuers: [
          { issuer: idp.issuer, audience: 'tessera-app' },
          { issuer: redirecting, audience: 'tessera-app' },
        ],
        trustedIssuerFetch: { cooldownSeconds: 0 },
      });
      const exchange = async (claims: Record<string, unknown>) =>
        engine.exchangeIdToken({
          subjectToken: await idp.sign(claims, { nowMs: clock.now() }),
          subjectTokenType: ID_TOKEN_TYPE,
        });
      // The control: the listed provider is fetched and its token accepted.
      await exchange({ sub: 'alice' });
      const fetched = { ...idp.fetches };
      assert.ok(fetched.jwks >= 1);
      await rejectsWith(exchange({ sub: 'mallory', iss: unlisted.issuer }), 'invalid_grant', 'unlisted');
      assert.deepEqual(unlisted.fetches, { discovery: 0, jwks: 0 });
      const refused = await exchange({ sub: 'mallory', iss: redirecting }).then(
        () => assert.fail('a token from a redirecting issuer was accepted'),
        (error: unknown) => error,
      );
      assert.ok(isTesseraError(refused), String(refused));
      assert.ok(redirects.length >= 1, 'the listed issuer was asked');
      assert.deepEqual(idp.fetches, fetched, 'the redirect was not followed');
    } finally {
      redirector.close();
      await idp.close();
      await unlisted.close();
    }
  });
});

describe('ID tokens without a nonce', () => {
  const AUDIENCE = 'tessera-app';
  let idp: TestIdentityProvider;
  before(async () => {
    idp = await startTestIdentityProvider(AUDIENCE);
  });
  after(() => idp.close());

  it('are accepted again on replay, each time a new session, until the per-identity limit or exp', async () => {
    const { engine, clock } = await createEngineFixture({
      trustedIssuers: [{ issuer: idp.issuer, audience: AUDIENCE }],
      trustedIssuerFetch: { cooldownSeconds: 0 },
      rateLimits: DEFAULT_RATE_LIMITS,
    });
    const idToken = await idp.sign({ sub: 'alice' }, { nowMs: clock.now() });
    const exchange = (ip: string) =>
      engine.exchangeIdToken({ subjectToken: idToken, subjectTokenType: ID_TOKEN_TYPE, ip });
    const sessions = new Set<string>();
    // From ten addresses, so only the per-identity limit (10 a minute) can stop the replays.
    for (let i = 0; i < 10; i += 1) sessions.add((await exchange(`198.51.100.${i}`)).sessionId);
    assert.equal(sessions.size, 10);
    await rejectsWith(exchange('198.51.100.99'), 'rate_limited', 'the eleventh replay');
    clock.advance(60_000);
    sessions.add((await exchange('198.51.100.98')).sessionId);
    assert.equal(sessions.size, 11);
    // The token's own life (here 5 minutes) is the other bound.
    clock.advance(5 * 60_000);
    await rejectsWith(exchange('198.51.100.97'), 'invalid_grant', 'after exp');
  });
});

describe('passwords', () => {
  it('are hashed with argon2id at OWASP’s parameters by default, while the event loop keeps turning', async () => {
    const hasher = createPasswordHasher();
    let turns = 0;
    let turning = true;
    const turn = () => {
      turns += 1;
      if (turning) setImmediate(turn);
    };
    setImmediate(turn);
    const phc = await hasher.hash(PASSWORD);
    const turnsWhileHashing = turns;
    turning = false;
    assert.match(phc, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    // A hash computed on the event loop would resolve before any setImmediate callback ran.
    assert.ok(turnsWhileHashing >= 1, `the event loop turned ${turnsWhileHashing} times`);
    assert.ok(await hasher.verify(phc, PASSWORD));
  });

  it('are normalized (NFKC) and measured in code points: 8 to 1,024', async () => {
    const { engine } = await createEngineFixture();
    // "ﬁ" (U+FB01) and a full-width "Ａ" are the same password as "fi" and "A" once normalized.
    await engine.register({ email: 'ada@example.com', password: 'a \uFB01ne \uFF21pple tree grows' });
    await engine.login({ email: 'ada@example.com', password: 'a fine Apple tree grows' });
    const emoji = (count: number) =>
      '\u{1F511}\u{1F333}\u{1F680}\u{1F36A}\u{1F308}\u{1F47E}\u{1F9ED}\u{1F3B2}'.slice(0, count * 2);
    // Seven emoji are fourteen UTF-16 units but seven code points: too short.
    await rejectsWith(
      engine.register({ email: 'bob@example.com', password: emoji(7) }),
      'invalid_password',
      '7',
    );
    await engine.register({ email: 'bob@example.com', password: emoji(8) });
    await rejectsWith(
      engine.register({ email: 'eve@example.com', password: `${'ab'.repeat(512)}c` }),
      'invalid_password',
      '1,025',
    );
    await engine.register({ email: 'eve@example.com', password: `${'ab'.repeat(511)}cd` });
  });
});
