/** Bounds on how long a fetched document is kept, ms. */
export interface CacheBounds {
  minMs: number;
  maxMs: number;
  /** When the answer states no lifetime. */
  defaultMs: number;
}

/**
 * How long a response may be used before it is fetched again (RFC 9111 §4.2.1): `max-age` minus
 * the `Age` a cache in between already spent, `0` for `no-store`/`no-cache`, `defaultMs` when
 * neither is stated; always clamped to `[minMs, maxMs]` (a floor so a `max-age=0` issuer is not
 * fetched on every request, a ceiling so a removed key leaves within a known bound).
 */
export function cacheLifetimeMs(headers: Headers, bounds: CacheBounds): number {
  const cacheControl = headers.get('cache-control') ?? '';
  let lifetimeMs = bounds.defaultMs;
  if (/(?:^|,)\s*no-(?:store|cache)\b/i.test(cacheControl)) lifetimeMs = 0;
  else {
    const maxAge = /(?:^|,)\s*max-age\s*=\s*"?(\d{1,10})"?\s*(?:,|$)/i.exec(cacheControl);
    if (maxAge?.[1] !== undefined) lifetimeMs = Number(maxAge[1]) * 1000;
  }
  const age = Number(headers.get('age') ?? 0);
  if (Number.isFinite(age) && age > 0) lifetimeMs -= age * 1000;
  return Math.min(bounds.maxMs, Math.max(bounds.minMs, lifetimeMs));
}
