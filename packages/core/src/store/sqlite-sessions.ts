import type { SqliteContext } from './sqlite-context.ts';
import { int, toKey, toSession } from './sqlite-rows.ts';
import type { Store } from './store.ts';

type SessionMethods = Pick<
  Store,
  | 'createSession'
  | 'findSession'
  | 'findSessionWithUser'
  | 'updateSessionAuth'
  | 'revokeSession'
  | 'revokeUserSessions'
  | 'listLiveSessions'
  | 'changePassword'
  | 'emergencyRevokeAll'
  | 'getGlobalNotBeforeMs'
  | 'sweepSessions'
  | 'listRevokedSince'
  | 'listSigningKeys'
  | 'addSigningKey'
  | 'deleteSigningKey'
>;

/** The SQLite store's sessions (rotation aside: see the group commit), global operations and signing keys. */
export function sqliteSessionMethods(ctx: SqliteContext): SessionMethods {
  const { s, read, write, appendEvents } = ctx;
  return {
    createSession: (session, options = {}) =>
      write(() => {
        const result = ctx.insertSession(session, options);
        appendEvents(options.emit?.(result) ?? []);
        return result;
      }),
    findSession: (id) =>
      read(() => {
        const row = s.sessionById.get(id);
        return row ? toSession(row) : null;
      }),
    // Two statements in one call: no round trip to save here, but one hop through the event loop.
    findSessionWithUser: (id) => read(() => ctx.sessionWithUser(id)),
    updateSessionAuth: (id, auth) =>
      write(() => {
        const [row] = s.updateSessionAuth.all({
          id,
          authTime: auth.authTimeMs,
          amr: JSON.stringify(auth.amr),
          acr: auth.acr,
        });
        return row ? toSession(row) : null;
      }),
    revokeSession: (id, atMs, reason, emit) =>
      write(() => {
        const [row] = s.revokeOne.all({ id, at: atMs, reason });
        if (!row) return null;
        const revoked = toSession(row);
        appendEvents(emit?.(revoked) ?? []);
        return revoked;
      }),
    revokeUserSessions: (userId, atMs, reason, options = {}) =>
      write(() => {
        const revoked = ctx.revokeUserSessions(userId, atMs, reason, options.exceptSessionId ?? null);
        if (revoked.length > 0) appendEvents(options.emit?.(revoked) ?? []);
        return revoked;
      }),
    listLiveSessions: (userId, nowMs) =>
      read(() => s.liveSessions.all({ user: userId, now: nowMs }).map(toSession)),
    changePassword: (userId, passwordHash, keepSessionId, atMs, emit) =>
      write(() => {
        const user = ctx.patchUser(userId, { passwordHash, bumpTokenVersion: true, updatedAtMs: atMs });
        if (user === null || user === 'email_taken') return null;
        const revoked = ctx.revokeUserSessions(userId, atMs, 'password_changed', keepSessionId);
        const result = { user, revoked };
        appendEvents(emit?.(result) ?? []);
        return result;
      }),
    emergencyRevokeAll: (atMs) =>
      write(() => {
        s.raiseNotBefore.run({ at: String(atMs) });
        return Number(s.revokeAll.run(atMs).changes);
      }),
    getGlobalNotBeforeMs: () => read(() => int(s.notBefore.get()?.value)),
    sweepSessions: (beforeMs, limit) =>
      write(() => {
        // One budget across the three tables, in this order.
        let left = Math.max(0, limit);
        for (const sweep of [s.sweepSessions, s.sweepTokens, s.sweepOutbox]) {
          if (left === 0) break;
          left -= Number(sweep.run({ before: beforeMs, limit: left }).changes);
        }
        return Math.max(0, limit) - left;
      }),
    listRevokedSince: (sinceMs, limit) =>
      read(() => s.revokedSince.all(sinceMs, Math.max(0, limit)).map(toSession)),

    listSigningKeys: () => read(() => s.keys.all().map(toKey)),
    addSigningKey: (key) =>
      write(() => {
        s.retireKeys.run(key.createdAtMs);
        s.insertKey.run(
          key.kid,
          key.alg,
          key.publicJwk,
          key.privateJwkEncrypted,
          key.createdAtMs,
          key.retiredAtMs,
        );
      }),
    deleteSigningKey: (kid) =>
      write(() => {
        s.deleteKey.run(kid);
      }),
  };
}
