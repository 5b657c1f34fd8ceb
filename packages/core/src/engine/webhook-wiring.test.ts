import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isTesseraError } from '../errors.ts';
import { createEngineFixture, enableTwoFactor, must } from '../testing/engine-fixture.ts';
import { startTestIdentityProvider, type TestIdentityProvider } from '../testing/identity-provider.ts';
import { totpCode } from '../totp.ts';
import { ID_TOKEN_TYPE } from './id-token-exchange.ts';
import type { EngineOptions } from './options.ts';
import type { WebhookMessage } from './webhook-events.ts';

// Every way a session or a user starts, and every two-factor change, reaches the webhook outbox in the
// write that makes it: sign-in by the app (startSession, createUser), by an identity provider, and
// two-factor on and off.

const AUDIENCE = 'tessera-app';
const PASSWORD = 'correct horse battery staple';
let idp: TestIdentityProvider;
before(async () => {
  idp = await startTestIdentityProvider(AUDIENCE);
});
after(async () => {
  await idp.close();
});

async function wired(options: Partial<EngineOptions> = {}) {
  const messages: WebhookMessage[] = [];
  const fixture = await createEngineFixture({
    deliver: async (message) => {
      messages.push(message);
    },
    trustedIssuers: [{ issuer: idp.issuer, audience: AUDIENCE }],
    ...options,
  });
  const delivered = async (): Promise<WebhookMessage[]> => {
    await fixture.engine.deliverWebhooks();
    return messages.splice(0);
  };
  return { ...fixture, delivered };
}

describe('webhook events of every sign-in path', () => {
  it('createUser and startSession (an app that signs users in itself)', async () => {
    const f = await wired();
    const profile = await f.engine.createUser({ email: 'lin@example.com' });
    const userEvents = await f.delivered();
    assert.deepEqual(
      userEvents.map((m) => m.type),
      ['user.created'],
    );
    assert.equal(userEvents[0]?.data.user_id, profile.id);
    const tokens = await f.engine.startSession({ userId: profile.id, amr: ['pwd'], userAgent: 'Firefox' });
    const [created] = await f.delivered();
    assert.equal(created?.type, 'session.created');
    assert.equal(created?.data.session_id, tokens.sessionId);
    assert.equal(created?.data.new_device, true);
    await f.engine.startSession({ userId: profile.id, amr: ['pwd'], userAgent: 'Firefox' });
    const [again] = await f.delivered();
    assert.equal(again?.data.new_device, false, 'the same device a second time');
  });

  it('a first sign-in through an identity provider: user.created and session.created in one write', async () => {
    const f = await wired();
    const idToken = await idp.sign({ sub: 'grace' }, { nowMs: f.clock.now() });
    const tokens = await f.engine.exchangeIdToken({ subjectToken: idToken, subjectTokenType: ID_TOKEN_TYPE });
    const events = await f.delivered();
    // One write, one instant: the outbox does not order them.
    assert.deepEqual(events.map((m) => m.type).sort(), ['session.created', 'user.created']);
    assert.equal(events.find((m) => m.type === 'session.created')?.data.session_id, tokens.sessionId);
    await f.engine.exchangeIdToken({
      subjectToken: await idp.sign({ sub: 'grace' }, { nowMs: f.clock.now() }),
      subjectTokenType: ID_TOKEN_TYPE,
    });
    assert.deepEqual(
      (await f.delivered()).map((m) => m.type),
      ['session.created'],
    );
  });
});

describe('webhook events of two-factor changes', () => {
  it('mfa.enabled when confirmed, mfa.disabled when turned off, and none for a refused code', async () => {
    const f = await wired();
    const tokens = await f.engine.register({ email: 'ada@example.com', password: PASSWORD });
    await f.delivered();
    const { secret } = await enableTwoFactor(f, tokens.accessToken);
    const enabled = await f.delivered();
    assert.deepEqual(
      enabled.map((m) => m.type),
      ['mfa.enabled'],
    );
    assert.deepEqual(enabled[0]?.data, { user_id: tokens.userId, email: 'ada@example.com' });
    const auth = await f.engine.authenticate(tokens.accessToken);
    await assert.rejects(f.engine.disableTotp(auth, '000000'), (error) => isTesseraError(error));
    assert.deepEqual(await f.delivered(), [], 'a refused code changes nothing, so no event');
    await f.engine.disableTotp(auth, totpCode(secret, f.clock.now()));
    assert.deepEqual(
      (await f.delivered()).map((m) => m.type),
      ['mfa.disabled'],
    );
  });

  it('writes nothing to the outbox without a delivery target', async () => {
    const f = await createEngineFixture();
    const tokens = await f.engine.register({ email: 'bo@example.com', password: PASSWORD });
    await enableTwoFactor(f, tokens.accessToken);
    assert.deepEqual(await f.store.listOutbox('pending', 10), []);
    must(tokens.refreshToken);
  });
});
