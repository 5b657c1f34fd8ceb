import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';

/** The keys Tessera derives from its one root secret, each for one purpose. */
export interface DerivedKeys {
  /** HMAC key for refresh-token MACs (a KeyObject: no key import on every MAC). */
  refreshMacKey: KeyObject;
  /** AES-256-GCM key that encrypts private signing keys at rest. */
  keyEncryptionKey: Buffer;
  /** AES-256-GCM key that encrypts users' TOTP secrets at rest. */
  totpSecretKey: Buffer;
  /** HMAC key of the stateless DPoP server nonces (RFC 9449 §8), the same on every instance. */
  dpopNonceKey: Buffer;
}

/**
 * Derives purpose-bound keys from the root secret (`TESSERA_SECRET`, at least 32 bytes) with
 * HKDF-SHA256 (RFC 5869), so that no key is used for two purposes.
 */
export function deriveKeys(rootSecret: Uint8Array): DerivedKeys {
  const derive = (info: string): Buffer =>
    Buffer.from(hkdfSync('sha256', rootSecret, 'tessera/v1', info, 32));
  return {
    refreshMacKey: createSecretKey(derive('refresh-token-mac')),
    keyEncryptionKey: derive('signing-key-encryption'),
    totpSecretKey: derive('totp-secret-encryption'),
    dpopNonceKey: derive('dpop-nonce'),
  };
}
