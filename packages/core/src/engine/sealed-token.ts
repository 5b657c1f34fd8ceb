import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { EngineContext } from './context.ts';

/**
 * One-time tokens are stored only as hashes, but their webhook event must carry the token itself until
 * it is delivered. The outbox therefore holds it sealed (AES-256-GCM under a key derived from the
 * secret, bound to the event id), in the field {@link SEALED_TOKEN_FIELD}: a copy of the database alone
 * yields no usable reset or sign-in link.
 */
export const SEALED_TOKEN_FIELD = 'sealed_token';

const keys = new WeakMap<Uint8Array, Buffer>();

function sealingKey(ctx: EngineContext): Buffer {
  const secret = ctx.options.secret;
  let key = keys.get(secret);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', secret, 'tessera/v1', 'outbox-token-sealing', 32));
    keys.set(secret, key);
  }
  return key;
}

/** Seals `token` for the outbox event `eventId`: base64url of IV, ciphertext and tag. */
export function sealToken(ctx: EngineContext, eventId: string, token: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealingKey(ctx), iv);
  cipher.setAAD(Buffer.from(eventId));
  const body = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
}

/**
 * The data of a stored event as its receiver gets it: a sealed token opened into `token`. Throws when
 * the seal cannot be opened (the secret changed since the event was written, or the row was altered).
 */
export function unsealEventData(
  ctx: EngineContext,
  eventId: string,
  data: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const { [SEALED_TOKEN_FIELD]: sealed, ...rest } = data;
  if (typeof sealed !== 'string') return { ...data };
  const bytes = Buffer.from(sealed, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', sealingKey(ctx), bytes.subarray(0, 12));
  decipher.setAAD(Buffer.from(eventId));
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  const token = Buffer.concat([
    decipher.update(bytes.subarray(12, bytes.length - 16)),
    decipher.final(),
  ]).toString('utf8');
  return { ...rest, token };
}

/** The data of a stored event as operators see it (listings): a sealed token shows as `"[redacted]"`. */
export function redactEventData(data: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { [SEALED_TOKEN_FIELD]: sealed, ...rest } = data;
  return sealed === undefined ? { ...data } : { ...rest, token: '[redacted]' };
}
