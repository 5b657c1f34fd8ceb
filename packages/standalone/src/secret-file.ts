import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSecret, type TesseraConfig } from './config.ts';

/**
 * The root secret: `TESSERA_SECRET` if set, else `<dataDir>/secret`, generated there (32 random
 * bytes, base64url, mode 0600) on first start. `generated` tells the caller to warn: losing that file
 * invalidates every refresh token and signing key.
 */
export function loadOrCreateSecret(config: TesseraConfig): {
  secret: Uint8Array;
  generated: boolean;
  path: string | null;
} {
  if (config.secret !== null) {
    const secret = decodeSecret(config.secret);
    if (!secret) throw new Error('TESSERA_SECRET: must be at least 32 bytes, base64url-encoded.');
    return { secret, generated: false, path: null };
  }
  const path = join(config.dataDir, 'secret');
  try {
    const secret = decodeSecret(readFileSync(path, 'utf8'));
    if (!secret) throw new Error(`${path} does not hold a valid secret (32+ bytes, base64url).`);
    return { secret, generated: false, path };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const text = randomBytes(32).toString('base64url');
  try {
    // `wx`: if another process created it first, use theirs.
    writeFileSync(path, `${text}\n`, { flag: 'wx', mode: 0o600 });
    chmodSync(path, 0o600);
    return { secret: decodeSecret(text) as Uint8Array, generated: true, path };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return loadOrCreateSecret(config);
  }
}
