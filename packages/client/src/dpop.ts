// DPoP (RFC 9449) for the client: one key pair per origin, kept where script cannot read it, and a
// proof signed for each request. No JOSE library: the client has no dependencies, and a compact JWS
// of two small JSON objects is a few lines over WebCrypto (whose ECDSA and Ed25519 signatures are
// already the raw bytes JWS wants, RFC 7518 §3.4 / RFC 8037 §3.1).

/**
 * A WebCrypto key as the DOM's `CryptoKey`, described structurally so the client's types resolve in a
 * Node program compiled without the DOM library.
 */
export interface DpopCryptoKey {
  readonly type: string;
  readonly extractable: boolean;
  readonly algorithm: { readonly name: string };
  readonly usages: readonly string[];
}

/** A key pair for DPoP proofs: a WebCrypto `CryptoKeyPair` (Ed25519, or ECDSA on P-256). */
export interface DpopKeyPair {
  privateKey: DpopCryptoKey;
  publicKey: DpopCryptoKey;
}

/** Options of `dpop` in `createTesseraClient`, for hosts that need more than `dpop: true`. */
export interface DpopOptions {
  /**
   * The key pair to sign with. Default: a non-extractable Ed25519 pair (ES256 where Ed25519 is
   * missing), kept in IndexedDB (database `tessera-dpop`) so reloads and every tab of the origin
   * share it; in memory only where there is no IndexedDB (Node).
   */
  keyPair?: () => Promise<DpopKeyPair>;
  /** Wall clock for the proofs' `iat`, ms since the epoch. Default `Date.now`. */
  now?: () => number;
}

/** Signs DPoP proofs with one key pair and sends requests with them. */
export interface DpopSender {
  /**
   * Sends `init` to `input` with a fresh `DPoP` proof for its method and URL; with `token`, also
   * `Authorization: DPoP <token>` and the proof's `ath`. A `DPoP-Nonce` the server answers is
   * remembered for its origin; after `use_dpop_nonce` the request is sent once more with the nonce,
   * so its body must be sendable twice (a string, not a stream).
   */
  send(
    http: (input: string | URL, init: RequestInit) => Promise<Response>,
    input: string | URL,
    init: RequestInit,
    token?: string | null,
  ): Promise<Response>;
}

interface Signer {
  key: CryptoKey;
  head: Record<string, unknown>;
}

const subtle = (): SubtleCrypto => crypto.subtle;
const b64url = (text: string): string =>
  btoa(text).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
const encodeBytes = (buffer: ArrayBuffer): string => b64url(String.fromCharCode(...new Uint8Array(buffer)));
// Every header and claim is ASCII (URLs are percent-encoded), so btoa takes the JSON as it is.
const encodeJson = (value: unknown): string => b64url(JSON.stringify(value));
const utf8 = (text: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(text);

const generate = (): Promise<CryptoKeyPair> =>
  (subtle().generateKey('Ed25519', false, ['sign', 'verify']) as Promise<CryptoKeyPair>).catch(() =>
    subtle().generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']),
  );

/**
 * The origin's stored pair, or `pair` stored as the origin's when there is none. One readwrite
 * transaction reads and writes, and IndexedDB runs those one at a time per store: two tabs that both
 * made a key end on whichever was stored first.
 */
function keep(pair?: CryptoKeyPair): Promise<CryptoKeyPair | undefined> {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('tessera-dpop');
    open.onupgradeneeded = () => open.result.createObjectStore('keys');
    open.onerror = () => reject(open.error);
    open.onsuccess = () => {
      const db = open.result;
      const tx = db.transaction('keys', 'readwrite');
      const store = tx.objectStore('keys');
      const read = store.get('pair');
      read.onsuccess = () => {
        const found = (read.result as CryptoKeyPair | undefined) ?? pair;
        if (!read.result && pair) store.put(pair, 'pair');
        tx.oncomplete = () => {
          db.close();
          resolve(found);
        };
      };
      tx.onabort = () => {
        db.close();
        reject(tx.error);
      };
    };
  });
}

/** The pair kept in IndexedDB; a key in memory where storage is missing or refused (private modes). */
const storedKeyPair = (): Promise<CryptoKeyPair> =>
  typeof indexedDB === 'undefined'
    ? generate()
    : keep()
        .then(async (found) => found ?? ((await keep(await generate())) as CryptoKeyPair))
        .catch(generate);

/** RFC 9449 §9: the server wants its nonce in the proof (a 400 from a token route, a 401 challenge elsewhere). */
const wantsNonce = async (response: Response): Promise<boolean> =>
  /use_dpop_nonce/.test(response.headers.get('www-authenticate') ?? '') ||
  (response.status === 400 &&
    (
      (await response
        .clone()
        .json()
        .catch(() => null)) as { error?: unknown } | null
    )?.error === 'use_dpop_nonce');

/**
 * Creates a DPoP sender (RFC 9449): the key pair is made or loaded on first use, each request gets a
 * proof (`typ: dpop+jwt`, `alg` EdDSA or ES256, the public `jwk`; claims `jti`, `htm`, `htu` without
 * query or fragment, `iat`, and `ath` / `nonce` when they apply). `createTesseraClient({ dpop: true })`
 * makes one; pass it your own key pair or clock through {@link DpopOptions}.
 * @example
 * const dpop = createDpop();
 * const response = await dpop.send(fetch, 'https://api.example.com/orders', { method: 'GET' }, accessToken);
 */
export function createDpop(options: DpopOptions = {}): DpopSender {
  const now = options.now ?? Date.now;
  const nonces = new Map<string, string>();
  let signer: Promise<Signer> | undefined;
  const load = async (): Promise<Signer> => {
    const { privateKey, publicKey } = (await (options.keyPair ?? storedKeyPair)()) as CryptoKeyPair;
    const { kty, crv, x, y } = await subtle().exportKey('jwk', publicKey);
    const alg = privateKey.algorithm.name === 'ECDSA' ? 'ES256' : 'EdDSA';
    return { key: privateKey, head: { typ: 'dpop+jwt', alg, jwk: { kty, crv, x, y } } };
  };
  const proof = async (htm: string, htu: string, token?: string | null, nonce?: string): Promise<string> => {
    signer ??= load();
    const { key, head } = await signer;
    const input = `${encodeJson(head)}.${encodeJson({
      jti: crypto.randomUUID(),
      htm,
      htu,
      iat: Math.floor(now() / 1000),
      ath: token ? encodeBytes(await subtle().digest('SHA-256', utf8(token))) : undefined,
      nonce,
    })}`;
    // `hash` is read by ECDSA and ignored by Ed25519.
    const signature = await subtle().sign({ name: key.algorithm.name, hash: 'SHA-256' }, key, utf8(input));
    return `${input}.${encodeBytes(signature)}`;
  };
  return {
    async send(http, input, init, token) {
      // Relative URLs resolve against the page; Node has no page, so they must be absolute there.
      const url = new URL(input, globalThis.location?.href);
      const method = (init.method ?? 'GET').toUpperCase();
      let response: Response;
      for (let tries = 0; ; tries += 1) {
        const nonce = nonces.get(url.origin);
        const headers = new Headers(init.headers);
        headers.set('dpop', await proof(method, url.origin + url.pathname, token, nonce));
        if (token) headers.set('authorization', `DPoP ${token}`);
        response = await http(input, { ...init, headers });
        const fresh = response.headers.get('dpop-nonce');
        if (fresh) nonces.set(url.origin, fresh);
        if (tries > 0 || !fresh || fresh === nonce || !(await wantsNonce(response))) return response;
      }
    },
  };
}
