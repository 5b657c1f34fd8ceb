import { createHmac, hkdfSync } from 'node:crypto';
import type { EngineContext } from './context.ts';

/** A device id as the HTTP layer mints it (the `tessera_device` cookie): 22 to 64 base64url characters. */
export const DEVICE_ID_PATTERN: RegExp = /^[A-Za-z0-9_-]{22,64}$/;

const keys = new WeakMap<Uint8Array, Buffer>();

/**
 * The fingerprint the store remembers a device by, for `session.created`'s `new_device` flag: an
 * HMAC-SHA256 (under a key derived from the secret) of the browser's device-id cookie when it has one,
 * else of its user agent (native apps and CLIs on body transport send no cookie). The HMAC keeps the
 * stored value from naming the device to anyone who reads the database. `undefined` when no webhook
 * target is configured: nobody reads the flag, so logins record nothing.
 */
export function deviceFingerprint(
  ctx: EngineContext,
  client: { deviceId?: string | null | undefined; userAgent?: string | null | undefined },
): string | undefined {
  if (ctx.options.deliver === null) return undefined;
  const secret = ctx.options.secret;
  let key = keys.get(secret);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', secret, 'tessera/v1', 'device-fingerprint', 32));
    keys.set(secret, key);
  }
  const source =
    typeof client.deviceId === 'string' && DEVICE_ID_PATTERN.test(client.deviceId)
      ? `id:${client.deviceId}`
      : `ua:${typeof client.userAgent === 'string' ? client.userAgent.trim() : ''}`;
  return createHmac('sha256', key).update(source, 'utf8').digest('base64url');
}
