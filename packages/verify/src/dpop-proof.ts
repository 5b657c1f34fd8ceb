import {
  checkDpopProof,
  checkDpopProofHeader,
  computeDpopAth,
  createReplayCache,
  DEFAULT_DPOP_PROOF_LEEWAY_SECONDS,
  DPOP_HEADER,
  DPOP_PROOF_TYP,
  DPOP_SIGNING_ALGS,
  readConfirmationThumbprint,
  readDpopHeader,
} from '@tessera/protocol';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  decodeProtectedHeader,
  importJWK,
  type JWK,
  jwtVerify,
} from 'jose';
import { VerifyError } from './errors.ts';
import { type RequestUrlParts, resolveRequestUrl } from './request-url.ts';
import type { ResolvedVerifierOptions } from './verifier-options.ts';

/** A request that presents a DPoP-bound token: its method, URL and headers (the `DPoP` proof). */
export interface DpopRequestParts extends RequestUrlParts {
  method?: string | undefined;
}

/** Checks the proof that comes with a DPoP-bound token. */
export interface DpopProofChecker {
  /**
   * Resolves when `proof` proves possession of the key `claims.cnf.jkt` names for this request;
   * throws {@link VerifyError} `invalid_token` when the token is not bound, `invalid_dpop_proof`
   * otherwise.
   */
  check(token: string, claims: Readonly<Record<string, unknown>>, request: DpopRequestParts): Promise<void>;
  /** Proof ids remembered against replay. */
  size(): number;
  clear(): void;
}

/** Client keys kept imported, and tokens' `ath` kept computed; the oldest is dropped past this. */
const MAX_CLIENT_KEYS = 10_000;
const MAX_TOKEN_HASHES = 10_000;

const refuse = (description: string, cause?: unknown): VerifyError =>
  new VerifyError('invalid_dpop_proof', description, cause === undefined ? undefined : { cause });

function proofHeader(headers: DpopRequestParts['headers']): string | null | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(DPOP_HEADER);
  const value = (headers as Record<string, string | readonly string[] | undefined>)[DPOP_HEADER];
  // Two DPoP headers are two proofs: RFC 9449 §4.3 check 1 refuses them.
  return Array.isArray(value) ? value.join(', ') : (value as string | undefined);
}

/**
 * The resource server's half of RFC 9449 (§4.3, §7.1): the proof's header (`typ`, `alg`, a public
 * `jwk`), the key's RFC 7638 thumbprint equal to `cnf.jkt`, the signature by that key (jose), then the
 * shared wire checks of `@tessera/protocol` (`htm`, `htu` against the URL the client addressed, `iat`
 * window, `ath` of this token), and last, so refused proofs never fill it, the `jti` replay cache.
 */
export function createDpopProofChecker(o: ResolvedVerifierOptions): DpopProofChecker {
  const replays = createReplayCache(o.dpopReplayCacheSize);
  // A client signs every proof with one key: importing it and hashing its thumbprint once per key,
  // not once per request, leaves the signature check as the proof's only real cost.
  const clientKeys = new Map<string, Promise<{ key: CryptoKey | Uint8Array; jkt: string }>>();
  const clientKey = (alg: string, jwk: JWK) => {
    const id = `${alg}.${JSON.stringify(jwk)}`;
    let known = clientKeys.get(id);
    if (!known) {
      if (clientKeys.size >= MAX_CLIENT_KEYS) clientKeys.delete(clientKeys.keys().next().value as string);
      known = Promise.all([importJWK(jwk, alg), calculateJwkThumbprint(jwk, 'sha256')]).then(
        ([key, jkt]) => ({
          key,
          jkt,
        }),
      );
      // A key that does not import is not remembered.
      known.catch(() => clientKeys.delete(id));
      clientKeys.set(id, known);
    }
    return known;
  };
  // A token comes back with every request, and WebCrypto's digest is a trip to the thread pool (about
  // 50 µs here): its `ath` is computed once (by the protocol module's definition) and remembered.
  const hashes = new Map<string, Promise<string>>();
  const athOf = (token: string): Promise<string> => {
    let known = hashes.get(token);
    if (!known) {
      if (hashes.size >= MAX_TOKEN_HASHES) hashes.delete(hashes.keys().next().value as string);
      known = computeDpopAth(token);
      hashes.set(token, known);
    }
    return known;
  };
  const leewaySeconds = Math.max(DEFAULT_DPOP_PROOF_LEEWAY_SECONDS, o.clockToleranceSeconds);
  return {
    async check(token, claims, request) {
      const jkt = readConfirmationThumbprint(claims);
      if (jkt === null)
        throw new VerifyError('invalid_token', 'The access token is not DPoP-bound; send it as Bearer.');
      const parsed = readDpopHeader(proofHeader(request.headers));
      if (parsed.kind === 'none') throw refuse('A DPoP proof is required with a DPoP-bound token.');
      if (parsed.kind === 'malformed') throw refuse('The DPoP header is not one compact JWS.');
      let header: Record<string, unknown>;
      try {
        header = decodeProtectedHeader(parsed.jwt) as Record<string, unknown>;
      } catch (cause) {
        throw refuse('The DPoP proof header cannot be read.', cause);
      }
      const headerCheck = checkDpopProofHeader(header);
      if (!headerCheck.ok) throw refuse(headerCheck.description);
      let imported: { key: CryptoKey | Uint8Array; jkt: string };
      try {
        imported = await clientKey(headerCheck.alg, headerCheck.jwk as JWK);
      } catch (cause) {
        throw refuse('The DPoP proof jwk is not a usable key.', cause);
      }
      if (imported.jkt !== jkt)
        throw refuse('The DPoP proof is signed by another key than the one the token is bound to.');
      const nowMs = o.now();
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(parsed.jwt, imported.key, {
          typ: DPOP_PROOF_TYP,
          algorithms: [...DPOP_SIGNING_ALGS],
          currentDate: new Date(nowMs),
        }));
      } catch (cause) {
        throw refuse('The DPoP proof signature does not verify.', cause);
      }
      const url = resolveRequestUrl(request, o);
      if (url === null) throw refuse('The request URL cannot be told; the DPoP proof htu cannot be checked.');
      const result = await checkDpopProof(header, payload, {
        method: (request.method ?? 'GET').toUpperCase(),
        url,
        nowSeconds: Math.floor(nowMs / 1000),
        maxAgeSeconds: o.dpopProofMaxAgeSeconds,
        leewaySeconds,
      });
      if (!result.ok) throw refuse(result.description);
      // RFC 9449 §4.3 check 11, with the token's hash remembered rather than computed per request.
      if (payload.ath !== (await athOf(token)))
        throw refuse('The DPoP proof ath does not match the access token.');
      const window = (result.iat + o.dpopProofMaxAgeSeconds + leewaySeconds) * 1000;
      if (replays.seen(`${jkt}.${result.jti}`, Math.max(window, nowMs + 1), nowMs))
        throw refuse('The DPoP proof was used before.');
    },
    size: () => replays.size(),
    clear: () => {
      replays.clear();
      hashes.clear();
      clientKeys.clear();
    },
  };
}
