/**
 * A bounded memory of DPoP proof ids (`jti`, RFC 9449 §11.1) for as long as a proof could still be
 * accepted. Entries are inserted in arrival order and each lives the same window, so the oldest is
 * always the first to expire: sweeping from the front is enough, so a check costs O(1) amortized.
 * When full of live entries, the oldest is forgotten (a replay of it would need to arrive within its
 * last moments and after `maxEntries` newer proofs); size the cache above the proofs a process can
 * verify per window. Shared by the Tessera server (its default in-process replay cache) and
 * `@tessera/verify`.
 */
export interface ReplayCache {
  /** True when `key` was seen and has not expired; otherwise remembers it until `expiresAtMs`. */
  seen(key: string, expiresAtMs: number, nowMs: number): boolean;
  /** When `key` was seen and has not expired: its expiry (ms); otherwise `null`. Remembers nothing. */
  expiryOf(key: string, nowMs: number): number | null;
  /** Forgets `key`. */
  forget(key: string): void;
  size(): number;
  clear(): void;
}

/** Creates a {@link ReplayCache} of at most `maxEntries` ids. */
export function createReplayCache(maxEntries: number): ReplayCache {
  const entries = new Map<string, number>();
  const sweep = (nowMs: number): void => {
    for (const [key, expiresAtMs] of entries) {
      if (expiresAtMs > nowMs) break;
      entries.delete(key);
    }
  };
  return {
    seen(key, expiresAtMs, nowMs) {
      const known = entries.get(key);
      if (known !== undefined && known > nowMs) return true;
      sweep(nowMs);
      if (entries.size >= maxEntries) {
        const oldest = entries.keys().next().value;
        if (oldest !== undefined) entries.delete(oldest);
      }
      entries.delete(key);
      entries.set(key, expiresAtMs);
      return false;
    },
    expiryOf(key, nowMs) {
      const known = entries.get(key);
      return known !== undefined && known > nowMs ? known : null;
    },
    forget(key) {
      entries.delete(key);
    },
    size: () => entries.size,
    clear: () => entries.clear(),
  };
}
