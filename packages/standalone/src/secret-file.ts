import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSecret, type TesseraConfig } from './config.ts';
import { describeFileError, StartupError } from './startup-error.ts';

/**
 * The root secret: `TESSERA_SECRET` if set, else `<dataDir>/secret`, generated there (32 random
 * bytes, base64url, mode 0600) on first start. `generated` tells the caller to warn: losing that file
 * invalidates every refresh token and signing key. Throws a {@link StartupError} naming
 * `TESSERA_DATA_DIR` (or `TESSERA_SECRET`) and the path when the file cannot be read, made or used.
 */
export function loadOrCreateSecret(config: TesseraConfig): {
  secret: Uint8Array;
  generated: boolean;
  path: string | null;
} {
  if (config.secret !== null) {
    const secret = decodeSecret(config.secret);
    if (!secret) {
      throw new StartupError('TESSERA_SECRET', 'must be at least 32 bytes, base64url-encoded.', 'config');
    }
    return { secret, generated: false, path: null };
  }
  const path = join(config.dataDir, 'secret');
  const fail = (what: string, error: unknown): never => {
    throw new StartupError(
      'TESSERA_DATA_DIR',
      `cannot ${what} (${describeFileError(error) ?? (error as Error).message}). The generated secret lives ` +
        'there: set TESSERA_DATA_DIR to a directory Tessera may create and write, or set TESSERA_SECRET.',
      'config',
      { cause: error },
    );
  };
  let text: string | null = null;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') fail(`read the secret file ${path}`, error);
  }
  if (text !== null) {
    const secret = decodeSecret(text);
    if (!secret) {
      throw new StartupError(
        'TESSERA_DATA_DIR',
        `${path} does not hold a valid secret (32+ bytes, base64url). Restore it from your backup; ` +
          'deleting it makes a new one and ends every session.',
        'config',
      );
    }
    return { secret, generated: false, path };
  }
  try {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    fail(`create the directory ${config.dataDir}`, error);
  }
  const generated = randomBytes(32).toString('base64url');
  try {
    // `wx`: if another process created it first, use theirs.
    writeFileSync(path, `${generated}\n`, { flag: 'wx', mode: 0o600 });
    chmodSync(path, 0o600);
    return { secret: decodeSecret(generated) as Uint8Array, generated: true, path };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') fail(`write the secret file ${path}`, error);
    return loadOrCreateSecret(config);
  }
}
