import {
  createHash,
  createHmac,
  createPublicKey,
  type KeyObject,
  timingSafeEqual,
  verify,
} from 'node:crypto';
import {
  checkDpopProof,
  checkDpopProofHeader,
  DEFAULT_DPOP_PROOF_LEEWAY_SECONDS,
  readDpopHeader,
} from '@tessera/protocol';
import { calculateJwkThumbprint, decodeProtectedHeader, type JWK } from 'jose';
import { TesseraError } from '../errors.ts';
import type { SessionRecord } from '../store/store.ts';
import { sanitizeHeaderText } from '../text.ts';
import { type EngineContext, IP_MAX_LENGTH, USER_AGENT_MAX_LENGTH } from './context.ts';
import { wakeOutbox } from './outbox-worker.ts';
import { dpopMismatchEvent } from './webhook-events.ts';

/** `TESSERA_DPOP`: `off` ignores proofs; `optional` binds sessions started with one; `required` refuses token requests without one. */
export type DpopMode = 'off' | 'optional' | 'required';
/** Every {@link DpopMode}, the default (`optional`) first. */
export const DPOP_MODES: readonly DpopMode[] = Object.freeze(['optional', 'off', 'required']);

/** How long one server nonce window lasts (seconds); a nonce is accepted in its window and the next. */
export const DPOP_NONCE_WINDOW_SECONDS = 300;

/** The DPoP parts of an HTTP request, as the engine checks them. */
export interface DpopProofRequest {
  /** The request's `DPoP` header value; `null`/`undefined` when it had none. */
  proof: string | null | undefined;
  /** The request method, upper case. */
  method: string;
  /**
   * The URL the client addressed: behind a proxy, the server's public URL plus the path, never the
   * internal address (RFC 9449 §4.3 check 9 compares it without query or fragment).
   */
  url: string;
  /** With `Authorization: DPoP <token>`: the access token, whose hash the proof's `ath` must carry. */
  accessToken?: string | undefined;
}

/**
 * A refused proof that the client can fix by signing again with the server's nonce (`use_dpop_nonce`,
 * RFC 9449 §8): carries the nonce the server answers in `DPoP-Nonce`.
 */
export class DpopNonceError extends TesseraError {
  readonly nonce: string;
  constructor(message: string, nonce: string) {
    super('use_dpop_nonce', message);
    this.nonce = nonce;
  }
}

/** The RFC 7638 members of each key type, in the order a thumbprint hashes them. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};
/** Public keys of recent proofs, imported once: a client signs every proof with the same key. */
const KEY_CACHE_SIZE = 1024;
const keyCache = new Map<string, { key: KeyObject; jkt: string }>();

/**
 * A proof's public key, imported, and its SHA-256 thumbprint (RFC 7638): from the cache when the same
 * key (by its thumbprint members, nothing else) was seen recently. Only the members RFC 7638 names
 * are imported, so nothing else in the header can change what is verified.
 */
async function proofKey(jwk: Readonly<Record<string, unknown>>, alg: string) {
  const members = THUMBPRINT_MEMBERS[String(jwk.kty)] ?? [];
  const publicJwk = Object.fromEntries(members.map((name) => [name, jwk[name]])) as JWK;
  const cacheKey = `${alg}:${JSON.stringify(publicJwk)}`;
  let entry = keyCache.get(cacheKey);
  if (entry === undefined) {
    entry = {
      key: createPublicKey({ key: publicJwk as never, format: 'jwk' }),
      jkt: await calculateJwkThumbprint(publicJwk, 'sha256'),
    };
    if (keyCache.size >= KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value as string);
    keyCache.set(cacheKey, entry);
  }
  return entry;
}

/**
 * The claims of a compact JWS whose signature `key` verifies for `alg`, or `null`. Node's synchronous
 * `crypto.verify`, the mirror of `tokens/sign-jws.ts`: a proof is checked on every DPoP request, and
 * this costs half of jose's `jwtVerify` (WebCrypto) per proof (131 vs 270 µs for ES256, measured in one
 * loop of 4,000 proofs). What jose would add is checked here or by `checkDpopProofHeader`: strict
 * base64url segments, no `crit` (a proof needs no extension), an allow-listed `alg` that fits the key
 * (so no algorithm confusion), a JSON object payload.
 */
function verifiedProofClaims(
  jwt: string,
  header: Readonly<Record<string, unknown>>,
  alg: string,
  key: KeyObject,
): Record<string, unknown> | null {
  if ('crit' in header) return null;
  const [encodedHeader, encodedPayload, encodedSignature, extra] = jwt.split('.');
  if (encodedHeader === undefined || encodedPayload === undefined || encodedSignature === undefined)
    return null;
  if (extra !== undefined || !BASE64URL.test(encodedPayload) || !BASE64URL.test(encodedSignature))
    return null;
  const data = Buffer.from(`${encodedHeader}.${encodedPayload}`);
  const signature = Buffer.from(encodedSignature, 'base64url');
  let valid: boolean;
  try {
    valid =
      alg === 'ES256'
        ? verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature)
        : alg === 'RS256'
          ? verify('sha256', data, key, signature)
          : verify(null, data, key, signature);
  } catch {
    return null;
  }
  if (!valid) return null;
  try {
    const claims: unknown = JSON.parse(Buffer.from(encodedPayload, 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims)
      ? (claims as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

const invalidProof = (message: string, cause?: unknown): TesseraError =>
  new TesseraError('invalid_dpop_proof', message, cause === undefined ? {} : { cause });

function nonceMac(ctx: EngineContext, window: number): string {
  return createHmac('sha256', ctx.keys.dpopNonceKey)
    .update(`dpop-nonce:${window}`)
    .digest('base64url')
    .slice(0, 22);
}

/**
 * The server nonce of now's window (RFC 9449 §8): the window number and an HMAC of it under a key
 * derived from the root secret, so every instance sharing the secret mints and accepts the same
 * nonces without storing any. `null` when nonces are off.
 */
export function currentDpopNonce(ctx: EngineContext): string | null {
  if (!ctx.options.dpopNonce) return null;
  const window = Math.floor(ctx.clock.now() / (DPOP_NONCE_WINDOW_SECONDS * 1000));
  return `${window.toString(36)}.${nonceMac(ctx, window)}`;
}

/** True for a nonce of now's window or the one before (so a nonce handed out just before a rotation still works). */
function acceptNonce(ctx: EngineContext, nonce: string): boolean {
  const match = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})$/.exec(nonce);
  if (!match) return false;
  const window = Number.parseInt(match[1] as string, 36);
  const current = Math.floor(ctx.clock.now() / (DPOP_NONCE_WINDOW_SECONDS * 1000));
  if (window !== current && window !== current - 1) return false;
  return timingSafeEqual(Buffer.from(match[2] as string), Buffer.from(nonceMac(ctx, window)));
}

/**
 * Checks the DPoP proof of a request and returns the SHA-256 JWK thumbprint (RFC 7638) of its key, or
 * `null` when there is none to bind to (no proof, or DPoP `off`). The proof's signature is verified
 * with the key in its own header (Node's `crypto.verify`, see `verifiedProofClaims`; the key imported once per key: see `proofKey`), then `@tessera/protocol`'s checks run (typ,
 * alg, public jwk, `htm`, `htu`, `iat` within `dpopProofMaxAgeSeconds`, `ath` with a token, the nonce
 * when nonces are on), then its `jti` is claimed in the replay cache for the proof window (shared
 * when the cache is). With `required` and no token, a request without a proof is refused.
 * Throws `invalid_dpop_proof`, or {@link DpopNonceError} (`use_dpop_nonce`).
 */
export async function verifyDpopProof(ctx: EngineContext, request: DpopProofRequest): Promise<string | null> {
  const mode = ctx.options.dpop;
  if (mode === 'off') return null;
  const header = readDpopHeader(request.proof);
  if (header.kind === 'none') {
    if (mode === 'required' && request.accessToken === undefined)
      throw invalidProof('This server requires a DPoP proof on token requests.');
    return null;
  }
  if (header.kind === 'malformed') throw invalidProof('The DPoP header must hold exactly one compact JWS.');
  let protectedHeader: Record<string, unknown>;
  try {
    protectedHeader = decodeProtectedHeader(header.jwt) as Record<string, unknown>;
  } catch (error) {
    throw invalidProof('The DPoP proof is not a readable JWS.', error);
  }
  // Before any key import: a header that can never pass costs nothing more.
  const checkedHeader = checkDpopProofHeader(protectedHeader);
  if (!checkedHeader.ok) throw invalidProof(checkedHeader.description);
  const nowMs = ctx.clock.now();
  let key: Awaited<ReturnType<typeof proofKey>>;
  try {
    key = await proofKey(checkedHeader.jwk, checkedHeader.alg);
  } catch (error) {
    throw invalidProof('The DPoP proof key cannot be used.', error);
  }
  const payload = verifiedProofClaims(header.jwt, protectedHeader, checkedHeader.alg, key.key);
  if (payload === null) throw invalidProof('The DPoP proof signature does not verify.');
  const nowSeconds = Math.floor(nowMs / 1000);
  const leewaySeconds = Math.max(ctx.leewaySeconds, DEFAULT_DPOP_PROOF_LEEWAY_SECONDS);
  const result = await checkDpopProof(protectedHeader, payload, {
    method: request.method,
    url: request.url,
    nowSeconds,
    maxAgeSeconds: ctx.options.dpopProofMaxAgeSeconds,
    leewaySeconds,
    ...(request.accessToken === undefined ? {} : { accessToken: request.accessToken }),
    ...(ctx.options.dpopNonce ? { acceptNonce: (nonce: string) => acceptNonce(ctx, nonce) } : {}),
  });
  if (!result.ok) {
    if (result.error === 'use_dpop_nonce')
      throw new DpopNonceError(result.description, currentDpopNonce(ctx) ?? '');
    throw invalidProof(result.description);
  }
  const { jkt } = key;
  // RFC 9449 §11.1: a proof is good once. Its jti is held as long as its iat could still pass the window.
  const replayKey = `dpop:jti:${createHash('sha256').update(`${jkt}\0${result.jti}`).digest('base64url')}`;
  const windowSeconds = ctx.options.dpopProofMaxAgeSeconds + leewaySeconds + 1;
  const decision = await ctx.options.dpopReplayCache.hit(replayKey, { limit: 1, windowSeconds }, nowMs);
  if (!decision.allowed) throw invalidProof('The DPoP proof was already used (its jti was seen before).');
  return jkt;
}

/** What a refused binding is reported as: no proof at all, or a proof by another key. */
export type DpopMismatch = 'missing_proof' | 'other_key';

/**
 * A bound session's refresh token (or renewable token) presented without a proof by its key: since only
 * a holder of the token but not of the key does that, it is an attack signal. Emits
 * `session.dpop_mismatch` (engine event, and the webhook when delivering) but leaves the session alive:
 * the thief cannot use it, and ending it would let anyone who saw the token log the user out.
 */
async function reportDpopMismatch(
  ctx: EngineContext,
  session: SessionRecord,
  mismatch: DpopMismatch,
  presenter: { ip?: string | null | undefined; userAgent?: string | null | undefined },
): Promise<void> {
  const atMs = ctx.clock.now();
  ctx.onEvent({
    type: 'session.dpop_mismatch',
    sessionId: session.id,
    userId: session.userId,
    proof: mismatch,
    atMs,
  });
  if (ctx.options.deliver === null) return;
  await ctx.store.appendOutbox([
    dpopMismatchEvent(
      session,
      {
        ip: sanitizeHeaderText(presenter.ip, IP_MAX_LENGTH),
        userAgent: sanitizeHeaderText(presenter.userAgent, USER_AGENT_MAX_LENGTH),
      },
      mismatch,
      atMs,
    ),
  ]);
  wakeOutbox(ctx);
}

/**
 * Refuses a renewal (refresh token, soft-expired or expired single token) of a DPoP-bound session
 * unless the request's proof was made by the session's key (RFC 9449 §5): `invalid_grant`, and
 * `session.dpop_mismatch` is reported. An unbound session passes.
 */
export async function assertRenewalBinding(
  ctx: EngineContext,
  session: SessionRecord,
  client: {
    dpopJkt?: string | null | undefined;
    ip?: string | null | undefined;
    userAgent?: string | null | undefined;
  },
): Promise<void> {
  if (session.dpopJkt === null) return;
  const presented = typeof client.dpopJkt === 'string' ? client.dpopJkt : null;
  if (presented === session.dpopJkt) return;
  await reportDpopMismatch(ctx, session, presented === null ? 'missing_proof' : 'other_key', client);
  throw new TesseraError(
    'invalid_grant',
    presented === null
      ? 'This session is bound to a DPoP key: send a DPoP proof signed with it.'
      : 'The DPoP proof was not made with the key this session is bound to.',
  );
}

/**
 * Refuses an access token used without its binding (RFC 9449 §7.1): a bound token (`boundJkt`) needs
 * `Authorization: DPoP` with a proof by that key (`invalid_token` presented as Bearer,
 * `invalid_dpop_proof` with another key's proof); an unbound token presented as DPoP is
 * `invalid_token` too.
 */
export function assertAccessBinding(boundJkt: string | null, presentedJkt: string | null): void {
  if (boundJkt === presentedJkt) return;
  if (boundJkt === null) {
    throw new TesseraError(
      'invalid_token',
      'This access token is not DPoP-bound: send it as a Bearer token.',
    );
  }
  if (presentedJkt === null) {
    throw new TesseraError(
      'invalid_token',
      'This access token is DPoP-bound: send it with Authorization: DPoP and a proof.',
    );
  }
  throw invalidProof('The DPoP proof was not made with the key this access token is bound to.');
}

/** A `dpopJkt` given to the engine: a SHA-256 JWK thumbprint (43 base64url characters), else `invalid_request`. */
export function checkDpopJkt(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(value)) {
    throw new TesseraError(
      'invalid_request',
      'dpopJkt must be a SHA-256 JWK thumbprint (43 base64url characters).',
      {
        field: 'dpopJkt',
      },
    );
  }
  return value;
}
