import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import type { WebhookMessage } from '../engine/webhook-events.ts';
import { isTesseraError } from '../errors.ts';
import { createStandardWebhooksSender, parseWebhookSecret } from './standard-webhooks.ts';

const SECRET = `whsec_${randomBytes(32).toString('base64')}`;

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let server: Server;
let url: string;
const received: Received[] = [];
/** What the receiver answers next: a status, or `hang` to never answer. */
let answer: number | 'hang' = 204;

before(async () => {
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      received.push({ path: request.url ?? '', headers: request.headers, body });
      if (answer === 'hang') return;
      response.writeHead(answer, answer === 302 ? { location: '/elsewhere' } : {});
      response.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/hooks?tenant=1`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function message(overrides: Partial<WebhookMessage> = {}): WebhookMessage {
  return {
    id: `msg_${randomBytes(16).toString('base64url')}`,
    type: 'password_reset.requested',
    timestamp: new Date('2030-01-01T00:00:00.000Z'),
    data: { user_id: 'u1', email: 'ada@example.com', token: 'tok', note: 'é "q" \u2028' },
    attempt: 1,
    attemptedAt: new Date(),
    signal: new AbortController().signal,
    ...overrides,
  };
}

describe('Standard Webhooks sender', () => {
  it('posts {type, timestamp, data} signed so that the standardwebhooks verifier accepts it', async () => {
    answer = 204;
    const deliver = createStandardWebhooksSender({ url, secret: SECRET });
    const sent = message();
    await deliver(sent);
    const got = received.at(-1) as Received;
    assert.equal(got.path, '/hooks?tenant=1');
    assert.equal(got.headers['content-type'], 'application/json');
    assert.equal(got.headers['webhook-id'], sent.id);
    assert.equal(got.headers['webhook-timestamp'], String(Math.floor(sent.attemptedAt.getTime() / 1000)));
    const payload = new Webhook(SECRET).verify(got.body, {
      'webhook-id': String(got.headers['webhook-id']),
      'webhook-timestamp': String(got.headers['webhook-timestamp']),
      'webhook-signature': String(got.headers['webhook-signature']),
    });
    assert.deepEqual(payload, {
      type: 'password_reset.requested',
      timestamp: '2030-01-01T00:00:00.000Z',
      data: sent.data,
    });
    const tampered = got.body.replace('ada@', 'eve@');
    assert.throws(() =>
      new Webhook(SECRET).verify(tampered, {
        'webhook-id': String(got.headers['webhook-id']),
        'webhook-timestamp': String(got.headers['webhook-timestamp']),
        'webhook-signature': String(got.headers['webhook-signature']),
      }),
    );
  });

  it('fails on any status but 2xx, follows no redirect, and gives up when the signal aborts', async () => {
    const deliver = createStandardWebhooksSender({ url, secret: SECRET });
    for (const status of [500, 404, 302]) {
      answer = status;
      await assert.rejects(deliver(message()), new RegExp(`HTTP ${status}`));
    }
    assert.ok(!received.some((r) => r.path === '/elsewhere'), 'the redirect was not followed');
    answer = 200;
    await deliver(message());
    answer = 'hang';
    const controller = new AbortController();
    const pending = deliver(message({ signal: controller.signal }));
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(pending);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const address = closed.address();
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const port = typeof address === 'object' && address ? address.port : 0;
    const refused = createStandardWebhooksSender({ url: `http://127.0.0.1:${port}/`, secret: SECRET });
    await assert.rejects(refused(message()), /network error: ECONNREFUSED/);
  });

  it('refuses bad secrets and URLs without repeating the secret', () => {
    const bad = [
      '',
      'whsec_',
      'whsec_!!!',
      `whsec_${randomBytes(8).toString('base64')}`,
      randomBytes(32).toString('base64'),
    ];
    for (const secret of bad) {
      assert.throws(
        () => parseWebhookSecret(secret),
        (error: unknown) =>
          isTesseraError(error) &&
          error.code === 'invalid_configuration' &&
          (secret.length < 8 || !error.message.includes(secret.slice(6))),
      );
    }
    assert.equal(parseWebhookSecret(SECRET).length, 32);
    for (const bad of [
      'ftp://example.com/',
      'http://user:pw@example.com/',
      'https://example.com/#x',
      'not a url',
    ]) {
      assert.throws(() => createStandardWebhooksSender({ url: bad, secret: SECRET }), /webhook URL/);
    }
  });
});
