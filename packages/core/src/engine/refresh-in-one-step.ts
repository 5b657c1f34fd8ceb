// A refresh in one store call where the store offers it (`rotateSessionInOneStep`: one round trip on
// PostgreSQL instead of a read and a write). The refresh token's MAC must be checked before anything
// is written, and it needs the session's salt: a salt never changes for a session's life and session
// ids are random and never reused, so a salt once read from the store (after a MAC check) is kept
// here and stays right for good. On a miss, or for anything unusual, the general path runs.

import type { SessionRecord, UserRecord } from '../store/store.ts';
import { sanitizeHeaderText } from '../text.ts';
import type { ParsedRefreshToken } from '../tokens/refresh-token.ts';
import { parseRefreshToken, refreshTokenMacMatches } from '../tokens/refresh-token.ts';
import { countAttempt, type EngineContext, IP_MAX_LENGTH, USER_AGENT_MAX_LENGTH } from './context.ts';
import { issueTokens, type TokenSet } from './issue-tokens.ts';
import type { RefreshInput } from './rotate-refresh-token.ts';

/** Salts kept per engine: about 150 bytes each, the oldest dropped first past this many. */
const MAX_SALTS = 100_000;
const saltsByEngine = new WeakMap<EngineContext, Map<string, string>>();

/** The fields of a refresh input this path handles; a request carrying any other takes the general one. */
const KNOWN_INPUT = new Set(['refreshToken', 'ip', 'userAgent']);

/**
 * Keeps a session's salt after its refresh token's MAC was checked against the store's row, when the
 * store can rotate in one step (otherwise nothing is kept).
 */
export function rememberSessionSalt(ctx: EngineContext, session: SessionRecord): void {
  if (!ctx.store.rotateSessionInOneStep) return;
  let salts = saltsByEngine.get(ctx);
  if (!salts) {
    salts = new Map();
    saltsByEngine.set(ctx, salts);
  }
  if (salts.has(session.id)) return;
  if (salts.size >= MAX_SALTS) salts.delete(salts.keys().next().value as string);
  salts.set(session.id, session.salt);
}

/** What the one-step path leaves the general path: the token, and the row and user it read. */
export interface OneStepRead {
  parsed: ParsedRefreshToken;
  session: SessionRecord;
  user: UserRecord | null;
}

/**
 * Tries the refresh in one store call. `null`: not applicable (no such store method, an unknown salt,
 * a MAC that does not match, extra input); nothing was counted or read. `{ tokens }`: rotated.
 * `{ read }`: the session's per-session attempt was counted and the store refused to rotate (another
 * generation, ended, a disabled user, a DPoP-bound session, a lost race): the general path goes on
 * from the row and user read, exactly as if it had read them itself.
 */
export async function refreshInOneStep(
  ctx: EngineContext,
  input: RefreshInput,
): Promise<{ tokens: TokenSet } | { read: OneStepRead | null } | null> {
  const rotate = ctx.store.rotateSessionInOneStep;
  if (!rotate) return null;
  // Anything else a refresh may carry (a DPoP proof's key, say) is for the general path to judge.
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined && value !== null && !KNOWN_INPUT.has(key)) return null;
  }
  const parsed = parseRefreshToken(input.refreshToken);
  if (!parsed) return null;
  const salt = saltsByEngine.get(ctx)?.get(parsed.sessionId);
  if (salt === undefined || !refreshTokenMacMatches(ctx.keys.refreshMacKey, parsed, salt)) return null;
  if (ctx.limits)
    await countAttempt(ctx, `refresh:session:${parsed.sessionId}`, ctx.limits.refreshPerSession);
  const nowMs = ctx.clock.now();
  const result = await rotate.call(ctx.store, parsed.sessionId, parsed.generation, {
    nowMs,
    idleTtlMs: ctx.idleTtlMs,
    maxLoginAgeMs: ctx.maxLoginAgeMs,
    ip: sanitizeHeaderText(input.ip, IP_MAX_LENGTH),
    userAgent: sanitizeHeaderText(input.userAgent, USER_AGENT_MAX_LENGTH),
  });
  if (!result) return { read: null };
  const { session, user } = result;
  if (!result.rotated || !user) return { read: { parsed, session, user } };
  ctx.onEvent({
    type: 'session.refreshed',
    sessionId: session.id,
    userId: user.id,
    generation: session.generation,
    atMs: nowMs,
  });
  return { tokens: await issueTokens(ctx, user, session, session.generation) };
}
