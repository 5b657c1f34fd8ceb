import { Webhook } from 'standardwebhooks';
import type { WebhookDeliver, WebhookMessage } from '../engine/webhook-events.ts';
import { TesseraError } from '../errors.ts';

/** Options of {@link createStandardWebhooksSender}. */
export interface StandardWebhooksOptions {
  /** Where events are POSTed: an http(s) URL without credentials or fragment. */
  url: string | URL;
  /** The signing secret: `whsec_` and the base64 of 24 to 64 random bytes (as the receiver holds it). */
  secret: string;
  /** The `fetch` to send with. Default: the global one. */
  fetch?: typeof fetch;
}

/** A delivery the receiver refused or never answered; the message names the status or the network error. */
export class WebhookDeliveryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebhookDeliveryError';
  }
}

/**
 * Checks a Standard Webhooks signing secret (`whsec_` + base64 of 24 to 64 bytes) and returns its key
 * bytes. Throws `invalid_configuration` (field `secret`) without repeating the secret.
 */
export function parseWebhookSecret(secret: string): Uint8Array {
  const encoded = typeof secret === 'string' && secret.startsWith('whsec_') ? secret.slice(6) : null;
  const bytes =
    encoded !== null && /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) && encoded.length % 4 === 0
      ? Buffer.from(encoded, 'base64')
      : null;
  if (bytes === null || bytes.length < 24 || bytes.length > 64) {
    throw new TesseraError(
      'invalid_configuration',
      'The webhook secret must be "whsec_" followed by the base64 of 24 to 64 random bytes.',
      { field: 'secret' },
    );
  }
  return new Uint8Array(bytes);
}

/** Checks a webhook URL: http(s), no credentials (they would end up in logs), no fragment. */
function webhookUrl(value: string | URL): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TesseraError('invalid_configuration', 'The webhook URL is not a URL.', { field: 'url' });
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.hash) {
    throw new TesseraError(
      'invalid_configuration',
      'The webhook URL must be http(s), without credentials or a fragment.',
      { field: 'url' },
    );
  }
  return url;
}

/** The JSON body of a Standard Webhooks event: `{ type, timestamp, data }`. */
export function webhookPayload(message: WebhookMessage): string {
  return JSON.stringify({
    type: message.type,
    timestamp: message.timestamp.toISOString(),
    data: message.data,
  });
}

/**
 * A `deliver` function that POSTs each message to `url` as the Standard Webhooks specification says:
 * the JSON body `{ type, timestamp, data }` with `webhook-id` (the message id, the same on every retry),
 * `webhook-timestamp` (the attempt's time, seconds) and `webhook-signature` (`v1,` + base64
 * HMAC-SHA256 of `id.timestamp.body` under the decoded secret), signed by the `standardwebhooks`
 * package so its verifiers in every language accept it. A 2xx answer is a delivery; any other status
 * (redirects are not followed), a network error or the attempt's timeout is a failure the outbox
 * retries. Throws `invalid_configuration` for a bad URL or secret.
 * @example
 * const engine = await createEngine({ ...options, deliver: createStandardWebhooksSender({ url, secret }) });
 * engine.startOutboxWorker();
 */
export function createStandardWebhooksSender(options: StandardWebhooksOptions): WebhookDeliver {
  const url = webhookUrl(options.url);
  const signer = new Webhook(parseWebhookSecret(options.secret), { format: 'raw' });
  const send = options.fetch ?? fetch;
  return async (message) => {
    const body = webhookPayload(message);
    const seconds = Math.floor(message.attemptedAt.getTime() / 1000);
    let response: Response;
    try {
      response = await send(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Tessera-Webhooks/1',
          'webhook-id': message.id,
          'webhook-timestamp': String(seconds),
          'webhook-signature': signer.sign(message.id, new Date(seconds * 1000), body),
        },
        body,
        redirect: 'manual',
        signal: message.signal,
      });
    } catch (error) {
      // fetch's own message is "fetch failed"; the cause says what (ECONNREFUSED, a bad port, an abort).
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
      const what =
        typeof cause?.code === 'string'
          ? cause.code
          : typeof cause?.message === 'string'
            ? cause.message
            : (error as Error).name;
      throw new WebhookDeliveryError(`network error: ${what}`, { cause: error });
    }
    // The receiver's body is not read (it could be large or echo the token); the connection is freed.
    await response.body?.cancel().catch(() => undefined);
    if (response.status < 200 || response.status > 299) {
      throw new WebhookDeliveryError(`HTTP ${response.status}`);
    }
  };
}
