import type {
  CreateSessionOptions,
  IdentityKey,
  IdentityRecord,
  OneTimeTokenRecord,
  OutboxEventInput,
  OutboxRecord,
  RedeemResult,
  RevokeReason,
  RotationUpdate,
  SessionRecord,
  SigningKeyRecord,
  Store,
  UserPatch,
  UserRecord,
} from './store.ts';

const identityKey = (identity: IdentityKey): string => JSON.stringify([identity.issuer, identity.subject]);

/**
 * Creates a {@link Store} held in this process's memory: for tests and throw-away demos.
 * Nothing survives the process; it cannot be shared between processes. Every method runs without
 * an `await` between its reads and writes, so each is atomic within the process.
 */
export function createMemoryStore(): Store {
  const users = new Map<string, UserRecord>();
  const userIdsByEmail = new Map<string, string>();
  const sessions = new Map<string, SessionRecord>();
  const keys = new Map<string, SigningKeyRecord>();
  const identities = new Map<string, IdentityRecord>();
  const recoveryCodes = new Map<string, Map<string, number | null>>();
  const devices = new Map<string, Set<string>>();
  const oneTimeTokens = new Map<string, OneTimeTokenRecord & { voided: boolean }>();
  const outbox = new Map<string, OutboxRecord & { leaseOwner: string | null; leaseUntilMs: number }>();
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
  const emailTakenByOther = (userId: string, email: string | null | undefined): boolean => {
    if (email === undefined || email === null) return false;
    const owner = userIdsByEmail.get(email);
    return owner !== undefined && owner !== userId;
  };
  const applyUserPatch = (user: UserRecord, patch: UserPatch): void => {
    if (patch.email !== undefined && patch.email !== user.email) {
      if (user.email !== null) userIdsByEmail.delete(user.email);
      if (patch.email !== null) userIdsByEmail.set(patch.email, user.id);
      user.email = patch.email;
    }
    if (patch.emailVerified !== undefined) user.emailVerified = patch.emailVerified;
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
    if (patch.totpPendingSecret !== undefined) user.totpPendingSecret = patch.totpPendingSecret;
    if (patch.bumpTokenVersion) {
      user.tokenVersion += 1;
      user.tokenVersionChangedAtMs = patch.updatedAtMs;
    }
    user.updatedAtMs = patch.updatedAtMs;
  };
  const revokeAllOf = (
    userId: string,
    atMs: number,
    reason: RevokeReason,
    exceptSessionId?: string,
  ): SessionRecord[] => {
    const revoked: SessionRecord[] = [];
    for (const s of sessions.values()) {
      if (s.userId === userId && s.revokedAtMs === null && s.id !== exceptSessionId) {
        revoked.push(revoke(s, atMs, reason));
      }
    }
    return revoked.sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
  };
  const insertSession = (session: SessionRecord, options: CreateSessionOptions) => {
    const evicted: SessionRecord[] = [];
    const maxPerUser = options.maxPerUser ?? 0;
    if (maxPerUser > 0) {
      const live = [...sessions.values()]
        .filter((s) => s.userId === session.userId && isLive(s, session.createdAtMs))
        .sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
      for (const s of live.slice(0, Math.max(0, live.length - maxPerUser + 1))) {
        evicted.push(revoke(s, session.createdAtMs, 'evicted'));
      }
    }
    sessions.set(session.id, cloneSession(session));
    return { evicted, newDevice: rememberDevice(session.userId, options.deviceFingerprint) };
  };
  const rememberDevice = (userId: string, fingerprint: string | undefined): boolean => {
    if (fingerprint === undefined) return false;
    let known = devices.get(userId);
    if (!known) {
      known = new Set();
      devices.set(userId, known);
    }
    if (known.has(fingerprint)) return false;
    known.add(fingerprint);
    return true;
  };
  const appendEvents = (events: readonly OutboxEventInput[]): void => {
    for (const event of events) {
      outbox.set(event.id, {
        ...event,
        data: structuredClone(event.data),
        state: 'pending',
        attempts: 0,
        nextAttemptAtMs: event.createdAtMs,
        deliveredAtMs: null,
        lastError: null,
        leaseOwner: null,
        leaseUntilMs: 0,
      });
    }
  };
  const publicOutbox = ({
    leaseOwner: _o,
    leaseUntilMs: _u,
    ...record
  }: OutboxRecord & {
    leaseOwner: string | null;
    leaseUntilMs: number;
  }): OutboxRecord => ({ ...record, data: structuredClone(record.data) });

  return {
    capabilities: { durable: false, multiProcess: false },

    async createUser(user, options = {}) {
      if ((user.email !== null && userIdsByEmail.has(user.email)) || users.has(user.id)) return 'email_taken';
      if (options.identity && identities.has(identityKey(options.identity))) return 'identity_taken';
      users.set(user.id, cloneUser(user));
      if (user.email !== null) userIdsByEmail.set(user.email, user.id);
      if (options.identity) {
        identities.set(identityKey(options.identity), {
          ...options.identity,
          userId: user.id,
          createdAtMs: user.createdAtMs,
        });
      }
      let newDevice = false;
      if (options.session) {
        newDevice = insertSession(options.session, {
          ...(options.deviceFingerprint === undefined
            ? {}
            : { deviceFingerprint: options.deviceFingerprint }),
        }).newDevice;
      }
      appendEvents(options.emit?.({ newDevice }) ?? []);
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
    async listUsers(afterId, limit) {
      return [...users.values()]
        .filter((u) => afterId === null || u.id > afterId)
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        .slice(0, Math.max(0, limit))
        .map(cloneUser);
    },
    async updateUser(id, patch, emit) {
      const user = users.get(id);
      if (!user) return null;
      if (emailTakenByOther(id, patch.email)) return 'email_taken';
      applyUserPatch(user, patch);
      appendEvents(emit?.(cloneUser(user)) ?? []);
      return cloneUser(user);
    },
    async acceptTotpStep(userId, step) {
      const user = users.get(userId);
      if (!user || (user.totpLastStep !== null && user.totpLastStep >= step)) return false;
      user.totpLastStep = step;
      return true;
    },
    async setRecoveryCodes(userId, codeHashes, options) {
      const user = users.get(userId);
      if (!user) return null;
      if (options.confirmTotp) {
        if (user.totpPendingSecret === null) return null;
        user.totpSecret = user.totpPendingSecret;
        user.totpPendingSecret = null;
        user.totpLastStep = null;
      }
      user.updatedAtMs = options.atMs;
      recoveryCodes.set(userId, new Map(codeHashes.map((hash) => [hash, null])));
      appendEvents(options.emit?.(cloneUser(user)) ?? []);
      return cloneUser(user);
    },
    async useRecoveryCode(userId, codeHash, atMs) {
      const codes = recoveryCodes.get(userId);
      if (!codes || !codes.has(codeHash) || codes.get(codeHash) !== null) return false;
      codes.set(codeHash, atMs);
      return true;
    },
    async countRecoveryCodes(userId) {
      return [...(recoveryCodes.get(userId)?.values() ?? [])].filter((used) => used === null).length;
    },

    async linkIdentity(userId, identity, atMs) {
      const existing = identities.get(identityKey(identity));
      if (existing) return existing.userId === userId ? 'already_linked' : 'taken';
      if (!users.has(userId)) return 'taken';
      identities.set(identityKey(identity), { ...identity, userId, createdAtMs: atMs });
      return 'linked';
    },
    async unlinkIdentity(userId, identity) {
      const existing = identities.get(identityKey(identity));
      if (!existing || existing.userId !== userId) return false;
      identities.delete(identityKey(identity));
      return true;
    },
    async findUserByIdentity(identity) {
      const existing = identities.get(identityKey(identity));
      const user = existing ? users.get(existing.userId) : undefined;
      return user ? cloneUser(user) : null;
    },
    async listIdentities(userId) {
      return [...identities.values()]
        .filter((i) => i.userId === userId)
        .sort((a, b) => a.createdAtMs - b.createdAtMs || identityKey(a).localeCompare(identityKey(b)))
        .map((i) => ({ ...i }));
    },

    async createSession(session, options = {}) {
      const result = insertSession(session, options);
      appendEvents(options.emit?.(result) ?? []);
      return result;
    },
    async findSession(id) {
      const s = sessions.get(id);
      return s ? cloneSession(s) : null;
    },
    async rotateSession(id, fromGeneration, update: RotationUpdate) {
      const s = sessions.get(id);
      if (!s || s.revokedAtMs !== null || s.generation !== fromGeneration) return null;
      if (update.dpopJkt !== undefined && s.dpopJkt !== null && s.dpopJkt !== update.dpopJkt) return null;
      s.generation = fromGeneration + 1;
      s.rotatedAtMs = update.nowMs;
      s.lastSeenAtMs = update.nowMs;
      s.idleExpiresAtMs = update.idleExpiresAtMs;
      s.ip = update.ip;
      s.userAgent = update.userAgent;
      if (update.dpopJkt !== undefined) s.dpopJkt = update.dpopJkt;
      return cloneSession(s);
    },
    async updateSessionAuth(id, auth) {
      const s = sessions.get(id);
      if (!s || s.revokedAtMs !== null) return null;
      s.authTimeMs = auth.authTimeMs;
      s.amr = [...auth.amr];
      s.acr = auth.acr;
      return cloneSession(s);
    },
    async revokeSession(id, atMs, reason, emit) {
      const s = sessions.get(id);
      if (!s || s.revokedAtMs !== null) return null;
      const revoked = revoke(s, atMs, reason);
      appendEvents(emit?.(revoked) ?? []);
      return revoked;
    },
    async revokeUserSessions(userId, atMs, reason, options = {}) {
      const revoked = revokeAllOf(userId, atMs, reason, options.exceptSessionId);
      appendEvents(options.emit?.(revoked) ?? []);
      return revoked;
    },
    async listLiveSessions(userId, nowMs) {
      return [...sessions.values()]
        .filter((s) => s.userId === userId && isLive(s, nowMs))
        .sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id))
        .map(cloneSession);
    },
    async changePassword(userId, passwordHash, keepSessionId, atMs, emit) {
      const user = users.get(userId);
      if (!user) return null;
      applyUserPatch(user, { passwordHash, bumpTokenVersion: true, updatedAtMs: atMs });
      const revoked = revokeAllOf(userId, atMs, 'password_changed', keepSessionId ?? undefined);
      const result = { user: cloneUser(user), revoked };
      appendEvents(emit?.(result) ?? []);
      return result;
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
        if (deleted >= limit) return deleted;
        const endedAt = s.revokedAtMs ?? Math.min(s.idleExpiresAtMs, s.absoluteExpiresAtMs);
        if (endedAt < beforeMs) {
          sessions.delete(id);
          deleted += 1;
        }
      }
      for (const [hash, t] of oneTimeTokens) {
        if (deleted >= limit) return deleted;
        if ((t.usedAtMs ?? t.expiresAtMs) < beforeMs || (t.voided && t.createdAtMs < beforeMs)) {
          oneTimeTokens.delete(hash);
          deleted += 1;
        }
      }
      for (const [id, e] of outbox) {
        if (deleted >= limit) return deleted;
        if (e.state === 'delivered' && (e.deliveredAtMs ?? 0) < beforeMs) {
          outbox.delete(id);
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
        .filter((u) => u.tokenVersionChangedAtMs !== null && u.tokenVersionChangedAtMs >= sinceMs)
        .sort(
          (a, b) =>
            (a.tokenVersionChangedAtMs ?? 0) - (b.tokenVersionChangedAtMs ?? 0) || a.id.localeCompare(b.id),
        )
        .slice(0, limit)
        .map((u) => ({
          id: u.id,
          tokenVersion: u.tokenVersion,
          updatedAtMs: u.tokenVersionChangedAtMs ?? 0,
        }));
    },

    async createOneTimeToken(record, emit) {
      for (const t of oneTimeTokens.values()) {
        if (t.userId === record.userId && t.kind === record.kind && t.usedAtMs === null) t.voided = true;
      }
      oneTimeTokens.set(record.tokenHash, { ...record, voided: false });
      appendEvents(emit?.({ ...record }) ?? []);
    },
    async redeemOneTimeToken(tokenHash, kind, nowMs, effect = {}): Promise<RedeemResult> {
      const t = oneTimeTokens.get(tokenHash);
      const user = t ? users.get(t.userId) : undefined;
      if (!t || !user || t.kind !== kind || t.usedAtMs !== null || t.voided || nowMs >= t.expiresAtMs) {
        return { status: 'invalid' };
      }
      if (effect.userPatch && emailTakenByOther(user.id, effect.userPatch.email))
        return { status: 'email_taken' };
      t.usedAtMs = nowMs;
      if (effect.userPatch) applyUserPatch(user, { ...effect.userPatch, updatedAtMs: nowMs });
      const revoked = effect.revokeSessions ? revokeAllOf(user.id, nowMs, effect.revokeSessions) : [];
      const evicted = effect.createSession
        ? insertSession(effect.createSession.session, { maxPerUser: effect.createSession.maxPerUser }).evicted
        : [];
      appendEvents(effect.emit?.({ user: cloneUser(user), revoked }) ?? []);
      const { voided: _voided, ...token } = t;
      return { status: 'redeemed', token: { ...token }, user: cloneUser(user), revoked, evicted };
    },

    async appendOutbox(events) {
      appendEvents(events);
    },
    async claimOutbox(nowMs, limit, leaseMs, owner) {
      const due = [...outbox.values()]
        .filter((e) => e.state === 'pending' && e.nextAttemptAtMs <= nowMs && e.leaseUntilMs <= nowMs)
        .sort((a, b) => a.nextAttemptAtMs - b.nextAttemptAtMs || a.id.localeCompare(b.id))
        .slice(0, Math.max(0, limit));
      for (const e of due) {
        e.leaseOwner = owner;
        e.leaseUntilMs = nowMs + leaseMs;
      }
      return due.map(publicOutbox);
    },
    async finishOutboxAttempt(id, owner, outcome) {
      const e = outbox.get(id);
      if (!e || e.leaseOwner !== owner || e.state !== 'pending') return;
      e.attempts += 1;
      e.leaseOwner = null;
      e.leaseUntilMs = 0;
      if (outcome.delivered) {
        e.state = 'delivered';
        e.deliveredAtMs = outcome.atMs;
        e.lastError = null;
      } else {
        e.lastError = outcome.error.slice(0, 200);
        if (outcome.nextAttemptAtMs === null) e.state = 'dead';
        else e.nextAttemptAtMs = outcome.nextAttemptAtMs;
      }
    },
    async listOutbox(state, limit) {
      return [...outbox.values()]
        .filter((e) => e.state === state)
        .sort((a, b) => b.createdAtMs - a.createdAtMs || b.id.localeCompare(a.id))
        .slice(0, Math.max(0, limit))
        .map(publicOutbox);
    },
    async replayOutbox(id, nowMs) {
      const e = outbox.get(id);
      if (!e || e.state === 'pending') return false;
      Object.assign(e, {
        state: 'pending',
        attempts: 0,
        nextAttemptAtMs: nowMs,
        deliveredAtMs: null,
        leaseOwner: null,
        leaseUntilMs: 0,
      });
      return true;
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
