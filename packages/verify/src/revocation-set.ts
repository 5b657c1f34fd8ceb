import type { RevocableClaims, WireRevocation } from '@tessera/protocol';

/**
 * The live revocations, in memory: by session id, by user (minimum token version, not-before) and a
 * global not-before. Entries leave after their `until_ms`, so memory holds only what was revoked within
 * one access-token lifetime.
 */
export interface RevocationSet {
  /** Adds `revocation` (already checked with `parseWireRevocation`). */
  apply(revocation: WireRevocation): void;
  /** Why `claims` are revoked at `nowMs`, or `null`. */
  reason(claims: RevocableClaims, nowMs: number): string | null;
  prune(nowMs: number): void;
  size(): number;
  clear(): void;
}

/** Creates an empty {@link RevocationSet}. */
export function createRevocationSet(): RevocationSet {
  const sessions = new Map<string, number>();
  const users = new Map<string, { minVersion: number; notBeforeMs: number; untilMs: number }>();
  let globalNotBeforeMs = 0;
  let globalUntilMs = 0;
  return {
    apply(revocation) {
      switch (revocation.type) {
        case 'session':
          sessions.set(revocation.sid, Math.max(sessions.get(revocation.sid) ?? 0, revocation.until_ms));
          break;
        case 'user': {
          const current = users.get(revocation.sub) ?? { minVersion: 0, notBeforeMs: 0, untilMs: 0 };
          users.set(revocation.sub, {
            minVersion: Math.max(current.minVersion, revocation.min_ver ?? 0),
            notBeforeMs: Math.max(current.notBeforeMs, revocation.not_before_ms ?? 0),
            untilMs: Math.max(current.untilMs, revocation.until_ms),
          });
          break;
        }
        case 'global':
          globalNotBeforeMs = Math.max(globalNotBeforeMs, revocation.not_before_ms);
          globalUntilMs = Math.max(globalUntilMs, revocation.until_ms);
          break;
      }
    },
    reason(claims, nowMs) {
      const sessionUntil = sessions.get(claims.sid);
      if (sessionUntil !== undefined && nowMs < sessionUntil) return 'The session of this token has ended.';
      const user = users.get(claims.sub);
      if (user && nowMs < user.untilMs) {
        if (claims.ver < user.minVersion) return 'The token is outdated; refresh it.';
        if (claims.iat * 1000 < user.notBeforeMs) return 'The token was issued before a revocation.';
      }
      if (nowMs < globalUntilMs && claims.iat * 1000 < globalNotBeforeMs)
        return 'Every token issued before an emergency revocation is refused.';
      return null;
    },
    prune(nowMs) {
      for (const [sid, until] of sessions) if (until <= nowMs) sessions.delete(sid);
      for (const [sub, entry] of users) if (entry.untilMs <= nowMs) users.delete(sub);
      if (globalUntilMs <= nowMs) globalNotBeforeMs = 0;
    },
    size: () => sessions.size + users.size + (globalNotBeforeMs > 0 ? 1 : 0),
    clear() {
      sessions.clear();
      users.clear();
      globalNotBeforeMs = 0;
      globalUntilMs = 0;
    },
  };
}
