import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTesseraError } from '../errors.ts';
import { createEngineFixture } from '../testing/engine-fixture.ts';

const PASSWORD = 'correct horse battery staple';

async function rejectsWith(promise: Promise<unknown>, code: string, field?: string): Promise<void> {
  await assert.rejects(
    promise,
    (error: unknown) =>
      isTesseraError(error) && error.code === code && (field === undefined || error.field === field),
  );
}

// Issue 10, finding 12.
describe('emails', () => {
  it('refuses ill-formed Unicode, control characters, markup, quotes and spaces, and stores nothing', async () => {
    const { engine, store } = await createEngineFixture();
    const bad = [
      'ada\uD800@example.com',
      'ada@example.com\uDC00',
      'ada\u0000@example.com',
      'ada\u0007@example.com',
      'ada\u0085@example.com',
      'ada\u202E@example.com',
      'ada\u200B@example.com',
      '<script>@example.com',
      'ada@<b>example</b>.com',
      '"ada"@example.com',
      '"a b"@example.com',
      'ada smith@example.com',
      'ada@exa mple.com',
      'ada@example',
      '.ada@example.com',
      'ada..b@example.com',
      'ada@-example.com',
      'ada@example..com',
      '`ada`@example.com',
    ];
    for (const email of bad) {
      await rejectsWith(engine.register({ email, password: PASSWORD }), 'invalid_email', 'email').catch(
        (error) => {
          throw new Error(`${JSON.stringify(email)}: ${(error as Error).message}`);
        },
      );
      await rejectsWith(engine.login({ email, password: PASSWORD }), 'invalid_email', 'email');
    }
    assert.deepEqual(await store.listUsers(null, 10), []);
  });

  it('normalizes NFC, case and surrounding space to one account', async () => {
    const { engine } = await createEngineFixture();
    // "é" decomposed (e + U+0301) at registration, composed at login.
    const tokens = await engine.register({ email: ' Ame\u0301lie@Example.com ', password: PASSWORD });
    const profile = await engine.getProfile(tokens.userId);
    assert.equal(profile.email, 'am\u00e9lie@example.com');
    await engine.login({ email: 'AM\u00c9LIE@example.com', password: PASSWORD });
    await rejectsWith(
      engine.register({ email: 'am\u00e9lie@example.com', password: PASSWORD }),
      'email_taken',
    );
    assert.equal((await engine.findUserByEmail('AME\u0301LIE@EXAMPLE.COM'))?.id, tokens.userId);
  });

  it('accepts ordinary addresses, internationalized ones included', async () => {
    const { engine } = await createEngineFixture();
    for (const email of [
      "o'brien@example.ie",
      'a.b+tag@sub.example.co.uk',
      'jürgen@bücher.de',
      'x_1@a-b.io',
    ]) {
      await engine.register({ email, password: PASSWORD });
    }
  });

  it('keys the account backoff on the normalized email', async () => {
    const { engine } = await createEngineFixture({
      rateLimits: { loginFailuresPerAccount: [{ limit: 3, windowSeconds: 60 }] },
    });
    await engine.register({ email: 'am\u00e9lie@example.com', password: PASSWORD });
    for (const spelling of [
      'AM\u00c9LIE@example.com',
      ' ame\u0301lie@example.com',
      'Am\u00e9lie@EXAMPLE.com',
    ]) {
      await rejectsWith(
        engine.login({ email: spelling, password: 'wrong password!' }),
        'invalid_credentials',
      );
    }
    await rejectsWith(engine.login({ email: 'am\u00e9lie@example.com', password: PASSWORD }), 'rate_limited');
  });
});

describe('passwords', () => {
  it('refuses lone surrogates but takes any other text as it is', async () => {
    const { engine } = await createEngineFixture();
    await rejectsWith(
      engine.register({ email: 'ada@example.com', password: 'correct horse \uD83D battery' }),
      'invalid_request',
      'password',
    );
    await rejectsWith(
      engine.login({ email: 'ada@example.com', password: 'correct horse \uDE00 battery' }),
      'invalid_request',
      'password',
    );
    const odd = 'pass\u202Eword \u0007 with \uD83D\uDE00 in it';
    await engine.register({ email: 'ada@example.com', password: odd });
    await engine.login({ email: 'ada@example.com', password: odd });
  });

  it('refuses a lone surrogate in a new password', async () => {
    const { engine } = await createEngineFixture();
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await rejectsWith(
      engine.changePassword(
        await engine.authenticate(tokens.accessToken),
        PASSWORD,
        'brand new \uD800 phrase',
      ),
      'invalid_request',
      'new_password',
    );
  });
});

describe('names, device names and profile fields', () => {
  it('refuses control characters, bidi overrides and isolates, and lone surrogates', async () => {
    const { engine } = await createEngineFixture();
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    const auth = await engine.authenticate(tokens.accessToken);
    const bad = [
      'Ada\u202Egnirts',
      'Ada\u2066x\u2069',
      'Ada\u202A',
      'Ada\u0000',
      'Ada\u009B',
      'Ada\uD800',
      'Ada\nLovelace',
    ];
    for (const name of bad) {
      await rejectsWith(engine.updateProfile(auth, { name }), 'invalid_request', 'name');
      await rejectsWith(
        engine.login({ email: 'ada@example.com', password: PASSWORD, deviceName: name }),
        'invalid_request',
        'device_name',
      );
      await rejectsWith(
        engine.register({ email: 'bob@example.com', password: PASSWORD, deviceName: name }),
        'invalid_request',
        'device_name',
      );
    }
    assert.equal(await engine.findUserByEmail('bob@example.com'), null);
    assert.equal((await engine.listSessions(tokens.userId, null)).length, 1);
  });

  it('stores names NFC-normalized and trimmed', async () => {
    const { engine } = await createEngineFixture();
    const tokens = await engine.register({
      email: 'ada@example.com',
      password: PASSWORD,
      deviceName: '  Ame\u0301lie’s phone ',
    });
    const [session] = await engine.listSessions(tokens.userId, null);
    assert.equal(session?.deviceName, 'Am\u00e9lie’s phone');
    const { profile } = await engine.updateProfile(await engine.authenticate(tokens.accessToken), {
      name: ' Ame\u0301lie ',
    });
    assert.equal(profile.profile.name, 'Am\u00e9lie');
  });

  it('checks profile values set by the app too', async () => {
    const { engine } = await createEngineFixture();
    const tokens = await engine.register({ email: 'ada@example.com', password: PASSWORD });
    await rejectsWith(
      engine.updateUser(tokens.userId, { profile: { name: 'x\u202Ey' } }),
      'invalid_request',
      'name',
    );
    await rejectsWith(
      engine.updateUser(tokens.userId, { profile: { nickname: 'x' } }),
      'invalid_request',
      'nickname',
    );
  });
});
