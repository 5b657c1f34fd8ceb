/** What was verified about a token, kept until it expires. */
export interface CachedToken<T> {
  value: T;
  /** `exp` in milliseconds. */
  expiresAtMs: number;
}

/**
 * A bounded cache of verified tokens (least recently inserted evicted first). A hit skips the signature
 * check; callers must still apply revocations, expiry and the key's presence in the JWKS on every use.
 */
export interface TokenCache<T> {
  get(token: string, nowMs: number): CachedToken<T> | undefined;
  set(token: string, entry: CachedToken<T>): void;
  size(): number;
  clear(): void;
}

/** Creates a {@link TokenCache} holding at most `maxEntries` tokens. */
export function createTokenCache<T>(maxEntries: number): TokenCache<T> {
  const entries = new Map<string, CachedToken<T>>();
  return {
    get(token, nowMs) {
      const entry = entries.get(token);
      if (entry && entry.expiresAtMs <= nowMs) {
        entries.delete(token);
        return undefined;
      }
      return entry;
    },
    set(token, entry) {
      if (maxEntries <= 0) return;
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      entries.set(token, entry);
    },
    size: () => entries.size,
    clear: () => entries.clear(),
  };
}
