import type {
  RevokeReason,
  RotationUpdate,
  SessionRecord,
  SigningKeyRecord,
  Store,
  UserPatch,
  UserRecord,
} from './store.ts';

/**
 * Creates a {@link Store} held in this process's memory: for tests and throw-away demos.
 * Nothing survives the process; it cannot be shared between processes.
 */
export function createMemoryStore(): Store {
  const users = new Map<string, UserRecord>();
  const userIdsByEmail = new Map<string, string>();
  const sessions = new Map<string, SessionRecord>();
  const keys = new Map<string, SigningKeyRecord>();
  let globalNotBeforeMs: number | null = null;

  const cloneUser = (u: UserRecord): UserRecord => ({ ...u, roles: [...u.roles], profile: { ...u.profile } });
  const cloneSession = (s: SessionRecord): SessionRecord => ({ ...s, amr: [...s.amr] });
  const isLive = (s: SessionRecord, nowMs: number): boolean =>
    s.revokedAtMs === null && nowMs < s.idleExpiresAtMs && nowMs < s.absoluteExpiresAtMs;
  const revoke = (s: SessionRecord, atMs: number, reason: RevokeReason): SessionRecord => {
    s.revokedAtMs = atMs;
    s.revokeReason = reason;
    return cloneSession(s);
  };
  const applyUserPatch = (user: UserRecord, patch: UserPatch): void => {
    if (patch.passwordHash !== undefined) user.passwordHash = patch.passwordHash;
    if (patch.roles !== undefined) user.roles = [...patch.roles];
    if (patch.profile !== undefined) {
      const profile = { ...user.profile };
      for (const [name, value] of Object.entries(patch.profile)) {
        if (value === null) delete profile[name];
        else profile[name] = value;
      }
      user.profile = profile;
    }
    if (patch.disabled !== undefined) user.disabled = patch.disabled;
    if (patch.reauthRequired !== undefined) user.reauthRequired = patch.reauthRequired;
    if (patch.totpSecret !== undefined) user.totpSecret = patch.totpSecret;
    if (patch.bumpTokenVersion) user.tokenVersion += 1;
    user.updatedAtMs = patch.updatedAtMs;
  };

  return {
    capabilities: { durable: false, multiProcess: false },

    async createUser(user) {
      if (userIdsByEmail.has(user.email) || users.has(user.id)) return 'email_taken';
      users.set(user.id, cloneUser(user));
      userIdsByEmail.set(user.email, user.id);
      return 'created';
    },
    async findUserById(id) {
      const user = users.get(id);
      return user ? cloneUser(user) : null;
    },
    async findUserByEmail(email) {
      const id = userIdsByEmail.get(email);
      const user = id === undefined ? undefined : users.get(id);
      return user ? cloneUser(user) : null;
    },
    async updateUser(id, patch) {
      const user = users.get(id);
      if (!user) return null;
      applyUserPatch(user, patch);
      return cloneUser(user);
    },

    async createSession(session, maxPerUser = 0) {
      const evicted: SessionRecord[] = [];
      if (maxPerUser > 0) {
        const live = [...sessions.values()]
          .filter((s) => s.userId === session.userId && isLive(s, session.createdAtMs))
          .sort((a, b) => a.createdAtMs - b.createdAtMs);
        for (const s of live.slice(0, Math.max(0, live.length - maxPerUser + 1))) {
          evicted.push(revoke(s, session.createdAtMs, 'evicted'));
        }
      }
      sessions.set(session.id, cloneSession(session));
      return evicted;
    },
    async findSession(id) {
      const s = sessions.get(id);
      return s ? cloneSession(s) : null;
    },
    async rotateSession(id, fromGeneration, update: RotationUpdate) {
      const s = sessions.get(id);
      if (!s || s.revokedAtMs !== null || s.generation !== fromGeneration) return null;
      s.generation = fromGeneration + 1;
      s.rotatedAtMs = update.nowMs;
      s.lastSeenAtMs = update.nowMs;
      s.idleExpiresAtMs = update.idleExpiresAtMs;
      s.ip = update.ip;
      s.userAgent = update.userAgent;
      return cloneSession(s);
    },
    async revokeSession(id, atMs, reason) {
      const s = sessions.get(id);
      if (!s || s.revokedAtMs !== null) return null;
      return revoke(s, atMs, reason);
    },
    async revokeUserSessions(userId, atMs, reason, exceptSessionId) {
      const revoked: SessionRecord[] = [];
      for (const s of sessions.values()) {
        if (s.userId === userId && s.revokedAtMs === null && s.id !== exceptSessionId) {
          revoked.push(revoke(s, atMs, reason));
        }
      }
      return revoked;
    },
    async listLiveSessions(userId, nowMs) {
      return [...sessions.values()]
        .filter((s) => s.userId === userId && isLive(s, nowMs))
        .sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id))
        .map(cloneSession);
    },
    async changePassword(userId, passwordHash, keepSessionId, atMs) {
      const user = users.get(userId);
      if (!user) return null;
      applyUserPatch(user, { passwordHash, bumpTokenVersion: true, updatedAtMs: atMs });
      const revoked: SessionRecord[] = [];
      for (const s of sessions.values()) {
        if (s.userId === userId && s.revokedAtMs === null && s.id !== keepSessionId) {
          revoked.push(revoke(s, atMs, 'password_changed'));
        }
      }
      return { user: cloneUser(user), revoked };
    },
    async emergencyRevokeAll(atMs) {
      globalNotBeforeMs = Math.max(globalNotBeforeMs ?? 0, atMs);
      let count = 0;
      for (const s of sessions.values()) {
        if (s.revokedAtMs === null) {
          revoke(s, atMs, 'emergency');
          count += 1;
        }
      }
      return count;
    },
    async getGlobalNotBeforeMs() {
      return globalNotBeforeMs;
    },
    async sweepSessions(beforeMs, limit) {
      let deleted = 0;
      for (const [id, s] of sessions) {
        if (deleted >= limit) break;
        const endedAt = s.revokedAtMs ?? Math.min(s.idleExpiresAtMs, s.absoluteExpiresAtMs);
        if (endedAt < beforeMs) {
          sessions.delete(id);
          deleted += 1;
        }
      }
      return deleted;
    },
    async listRevokedSince(sinceMs, limit) {
      return [...sessions.values()]
        .filter((s) => s.revokedAtMs !== null && s.revokedAtMs >= sinceMs)
        .sort((a, b) => (a.revokedAtMs ?? 0) - (b.revokedAtMs ?? 0) || a.id.localeCompare(b.id))
        .slice(0, limit)
        .map(cloneSession);
    },

    async listUsersUpdatedSince(sinceMs, limit) {
      return [...users.values()]
        .filter((u) => u.updatedAtMs >= sinceMs)
        .sort((a, b) => a.updatedAtMs - b.updatedAtMs || a.id.localeCompare(b.id))
        .slice(0, limit)
        .map((u) => ({ id: u.id, tokenVersion: u.tokenVersion, updatedAtMs: u.updatedAtMs }));
    },

    async listSigningKeys() {
      return [...keys.values()]
        .sort((a, b) => b.createdAtMs - a.createdAtMs || b.kid.localeCompare(a.kid))
        .map((k) => ({ ...k }));
    },
    async addSigningKey(key) {
      for (const k of keys.values()) if (k.retiredAtMs === null) k.retiredAtMs = key.createdAtMs;
      keys.set(key.kid, { ...key });
    },
    async deleteSigningKey(kid) {
      keys.delete(kid);
    },

    async ping() {},
    async close() {},
  };
}
