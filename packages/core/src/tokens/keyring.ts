import { createPrivateKey, type JsonWebKey, type KeyObject, type webcrypto } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Clock } from '../clock.ts';
import type { SigningKeyRecord, Store } from '../store/store.ts';
import { randomBase64url } from './random-id.ts';
import { seal, unseal } from './sealed-box.ts';

type CryptoKey = webcrypto.CryptoKey;

/** Signature algorithms Tessera signs access tokens with. */
export type SigningAlg = 'EdDSA' | 'ES256' | 'RS256';

/** The algorithms accepted for `TESSERA_SIGNING_ALG`. */
export const SIGNING_ALGS: readonly SigningAlg[] = Object.freeze(['EdDSA', 'ES256', 'RS256']);

/** A key ready to sign. */
export interface ActiveSigningKey {
  kid: string;
  alg: SigningAlg;
  /** A Node KeyObject: signing uses the synchronous `crypto.sign`. */
  privateKey: KeyObject;
}

/** A key ready to verify, with the one algorithm it may be used with. */
export interface VerificationKey {
  kid: string;
  alg: SigningAlg;
  publicKey: CryptoKey;
}

/** A JSON Web Key Set (RFC 7517 §5). */
export interface Jwks {
  keys: JWK[];
}

/** Options of {@link createKeyring}. */
export interface KeyringOptions {
  store: Store;
  /** 32-byte AES-256-GCM key that encrypts private keys at rest. */
  keyEncryptionKey: Uint8Array;
  /** Algorithm for new keys; a stored signing key of another algorithm is rotated out at start. */
  alg: SigningAlg;
  clock: Clock;
  /** How long a retired key stays published: the access-token TTL plus leeway plus reload delay. */
  retiredKeyRetentionMs: number;
  /** How often keys are re-read from the store, so that a rotation by another process is seen. */
  reloadIntervalMs: number;
}

/** Signing keys: the one that signs, the ones that verify, the public JWKS, rotation. */
export interface Keyring {
  /** The current signing key. */
  signingKey(): Promise<ActiveSigningKey>;
  /** The published key with this `kid`, re-reading the store once for an unknown one. */
  verificationKey(kid: string): Promise<VerificationKey | null>;
  /** The public keys: the signing key and retired keys whose tokens may still be valid. */
  jwks(): Promise<Jwks>;
  /** Generates a new signing key of `alg` (default: the configured one); returns its kid. */
  rotate(alg?: SigningAlg): Promise<string>;
  /** Re-reads keys from the store and deletes retired keys past their retention. */
  reload(): Promise<void>;
}

interface LoadedKey {
  record: SigningKeyRecord;
  publicJwk: JWK;
  publicKey: CryptoKey;
  privateKey: KeyObject | null;
}

function encryptPrivateJwk(kek: Uint8Array, kid: string, jwk: JWK): string {
  return seal(kek, kid, JSON.stringify(jwk));
}

function decryptPrivateJwk(kek: Uint8Array, kid: string, sealed: string): JWK {
  return JSON.parse(unseal(kek, kid, sealed)) as JWK;
}

/** Makes a new key pair of `alg` and its stored record, private half encrypted under `kek`. */
async function generateSigningKeyRecord(
  alg: SigningAlg,
  kek: Uint8Array,
  createdAtMs: number,
): Promise<SigningKeyRecord> {
  const { publicKey, privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}),
    ...(alg === 'RS256' ? { modulusLength: 2048 } : {}),
  });
  const kid = randomBase64url(12);
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  const privateJwk = await exportJWK(privateKey);
  return {
    kid,
    alg,
    publicJwk: JSON.stringify(publicJwk),
    privateJwkEncrypted: encryptPrivateJwk(kek, kid, privateJwk),
    createdAtMs,
    retiredAtMs: null,
  };
}

/**
 * Creates the keyring over `store`: loads keys, and generates the first key (or a key of the newly
 * configured algorithm) when needed. Private keys are decrypted only in memory.
 * Throws if a stored private key cannot be decrypted (the secret changed).
 */
export async function createKeyring(options: KeyringOptions): Promise<Keyring> {
  const { store, keyEncryptionKey: kek, clock } = options;
  let keys = new Map<string, LoadedKey>();
  let current: LoadedKey | null = null;
  let loadedAtMs = Number.NEGATIVE_INFINITY;
  let lastJwksReloadMs = Number.NEGATIVE_INFINITY;
  let lastMissReloadMs = Number.NEGATIVE_INFINITY;

  const isPublished = (record: SigningKeyRecord, nowMs: number): boolean =>
    record.retiredAtMs === null || nowMs < record.retiredAtMs + options.retiredKeyRetentionMs;

  async function load(): Promise<void> {
    const nowMs = clock.now();
    const next = new Map<string, LoadedKey>();
    let newest: LoadedKey | null = null;
    for (const record of await store.listSigningKeys()) {
      if (!isPublished(record, nowMs)) {
        await store.deleteSigningKey(record.kid);
        continue;
      }
      const known = keys.get(record.kid);
      const alg = record.alg as SigningAlg;
      const publicJwk = JSON.parse(record.publicJwk) as JWK;
      const loaded: LoadedKey = known
        ? { ...known, record }
        : {
            record,
            publicJwk,
            publicKey: (await importJWK(publicJwk, alg)) as CryptoKey,
            privateKey: null,
          };
      if (record.retiredAtMs === null && (!newest || record.createdAtMs > newest.record.createdAtMs)) {
        newest = loaded;
      }
      next.set(record.kid, loaded);
    }
    if (newest && !newest.privateKey) {
      try {
        const jwk = decryptPrivateJwk(kek, newest.record.kid, newest.record.privateJwkEncrypted);
        newest.privateKey = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
      } catch (cause) {
        throw new Error(
          `Cannot decrypt signing key ${newest.record.kid}: TESSERA_SECRET differs from the one it was stored with.`,
          { cause },
        );
      }
    }
    keys = next;
    current = newest;
    loadedAtMs = nowMs;
  }

  async function rotate(alg: SigningAlg = options.alg): Promise<string> {
    const record = await generateSigningKeyRecord(alg, kek, clock.now());
    await store.addSigningKey(record);
    await load();
    return record.kid;
  }

  async function fresh(): Promise<void> {
    if (clock.now() - loadedAtMs >= options.reloadIntervalMs) await load();
  }

  await load();
  if (!current || (current as LoadedKey).record.alg !== options.alg) await rotate();

  return {
    async signingKey() {
      await fresh();
      if (!current?.privateKey) await rotate();
      const key = current as LoadedKey | null;
      if (!key?.privateKey) throw new Error('No signing key is available.');
      return { kid: key.record.kid, alg: key.record.alg as SigningAlg, privateKey: key.privateKey };
    },
    async verificationKey(kid) {
      await fresh();
      let key = keys.get(kid);
      // Another instance may have rotated: re-read, but at most once a second for unknown kids.
      if (!key && clock.now() - lastMissReloadMs >= 1000) {
        lastMissReloadMs = clock.now();
        await load();
        key = keys.get(kid);
      }
      if (!key || !isPublished(key.record, clock.now())) return null;
      return { kid, alg: key.record.alg as SigningAlg, publicKey: key.publicKey };
    },
    async jwks() {
      // The JWKS is fetched rarely (verifiers cache it) and must include a key another instance
      // generated a moment ago (instances started together each make a first key), so it re-reads
      // the store unless a JWKS request did within the last 100 ms (at most ten reads a second). A
      // load for another reason (this instance's own start) does not count: it may predate the others'.
      if (clock.now() - lastJwksReloadMs >= 100) {
        lastJwksReloadMs = clock.now();
        await load();
      }
      const nowMs = clock.now();
      return {
        keys: [...keys.values()].filter((k) => isPublished(k.record, nowMs)).map((k) => ({ ...k.publicJwk })),
      };
    },
    rotate,
    reload: load,
  };
}
