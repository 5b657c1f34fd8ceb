import type { Revocation } from '../revocation-bus.ts';
import { accessTokenHorizonMs, type EngineContext } from './context.ts';

/** The most entries one listing returns; past it the feed would rather send a full snapshot. */
const MAX_ENTRIES = 1_000_000;

/**
 * Revocations that happened at or after `sinceMs` and can still match a valid access token, read from
 * the store (the source of truth): revoked sessions, users whose token version changed, and the global
 * not-before. Each entry's `untilMs` is when it can be forgotten. With `sinceMs` one access-token
 * lifetime ago this is the complete live set, so its size is bounded by what was revoked within one
 * access-token lifetime.
 */
export async function listRevocationsSince(ctx: EngineContext, sinceMs: number): Promise<Revocation[]> {
  const nowMs = ctx.clock.now();
  const horizonStart = nowMs - accessTokenHorizonMs(ctx, 0);
  const from = Math.max(sinceMs, horizonStart);
  const out: Revocation[] = [];
  for (const session of await ctx.store.listRevokedSince(from, MAX_ENTRIES)) {
    const atMs = session.revokedAtMs ?? nowMs;
    out.push({
      kind: 'session',
      sid: session.id,
      sub: session.userId,
      untilMs: accessTokenHorizonMs(ctx, atMs),
      atMs,
    });
  }
  for (const user of await ctx.store.listUsersUpdatedSince(from, MAX_ENTRIES)) {
    out.push({
      kind: 'user',
      sub: user.id,
      minVersion: user.tokenVersion,
      untilMs: accessTokenHorizonMs(ctx, user.updatedAtMs),
      atMs: user.updatedAtMs,
    });
  }
  const notBeforeMs = await ctx.store.getGlobalNotBeforeMs();
  if (notBeforeMs !== null && notBeforeMs >= from) {
    out.push({
      kind: 'global',
      notBeforeMs,
      untilMs: accessTokenHorizonMs(ctx, notBeforeMs),
      atMs: notBeforeMs,
    });
  }
  return out.sort((a, b) => a.atMs - b.atMs);
}
