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
const deviceKey = (userId: string, fingerprint: string): string => JSON.stringify([userId, fingerprint]);
// Code-unit order, as SQLite's BINARY collation and PostgreSQL's "C" sort ASCII ids.
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

type StoredToken = OneTimeTokenRecord & { voidedAtMs: number | null };
type StoredEvent = OutboxRecord & { leaseOwner: string | null; leaseUntilMs: number };

/**
 * Creates a {@link Store} held in this process's memory: for tests and throw-away demos.
 * Nothing survives the process; it cannot be shared between processes. Every method runs without
 * an `await` between its reads and writes, so each is atomic within the process; a write that fails
 * part-way (an `emit` that throws, a duplicate id) is undone whole, as a database transaction is.
 */
export function createMemoryStore(): Store {
  const users = new Map<string, UserRecord>();
  const userIdsByEmail = new Map<string, string>();
  const sessions = new Map<string, SessionRecord>();
  const keys = new Map<string, SigningKeyRecord>();
  const identities = new Map<string, IdentityRecord>();
  const recoveryCodes = new Map<string, Map<string, number | null>>();
  const devices = new Map<string, number>();
  const oneTimeTokens = new Map<string, StoredToken>();
  const outbox = new Map<string, StoredEvent>();
  let globalNotBeforeMs: number | null = null;

  // The undo log of the write in progress: each change pushes its inverse, replayed backwards on failure.
  let journal: Array<() => void> | null = null;
  const atomically = <T>(work: () => T): T => {
    const undo: Array<() => void> = [];
    journal = undo;
    try {
      return work();
    } catch (error) {
      for (const restore of undo.reverse()) restore();
      throw error;
    } finally {
      journal = null;
    }
  };
  const put = <K, V>(map: Map<K, V>, key: K, value: V): void => {
    const had = map.has(key);
    const old = map.get(key) as V;
    map.set(key, value);
    journal?.push(() => (had ? map.set(key, old) : map.delete(key)));
  };
  const remove = <K, V>(map: Map<K, V>, key: K): void => {
    if (!map.has(key)) return;
    const old = map.get(key) as V;
    map.delete(key);
    journal?.push(() => map.set(key, old));
  };
  const assign = <T extends object>(target: T, changes: Partial<T>): void => {
    const old: Partial<T> = {};
    for (const field of Object.keys(changes) as Array<keyof T>) old[field] = target[field];
    Object.assign(target, changes);
    journal?.push(() => Object.assign(target, old));
  };

  const cloneUser = (u: UserRecord): UserRecord => ({ ...u, roles: [...u.roles], profile: { ...u.profile } });
  const cloneSession = (s: SessionRecord): SessionRecord => ({ ...s, amr: [...s.amr] });
  const isLive = (s: SessionRecord, nowMs: number): boolean =>
    s.revokedAtMs === null && nowMs < s.idleExpiresAtMs && nowMs < s.absoluteExpiresAtMs;
  const byAge = (a: SessionRecord, b: SessionRecord): number =>
    a.createdAtMs - b.createdAtMs || compare(a.id, b.id);
  const revoke = (s: SessionRecord, atMs: number, reason: RevokeReason): SessionRecord => {
    assign(s, { revokedAtMs: atMs, revokeReason: reason });
    return cloneSession(s);
  };
  const emailTakenByOther = (userId: string, email: string | null | undefined): boolean => {
    if (email === undefined || email === null) return false;
    const owner = userIdsByEmail.get(email);
    return owner !== undefined && owner !== userId;
  };
  const applyUserPatch = (user: UserRecord, patch: UserPatch): void => {
    const next = cloneUser(user);
    if (patch.email !== undefined && patch.email !== user.email) {
      if (user.email !== null) remove(userIdsByEmail, user.email);
      if (patch.email !== null) put(userIdsByEmail, patch.email, user.id);
      next.email = patch.email;
    }
    if (patch.emailVerified !== undefined) next.emailVerified = patch.emailVerified;
    if (patch.passwordHash !== undefined) next.passwordHash = patch.passwordHash;
    if (patch.roles !== undefined) next.roles = [...patch.roles];
    if (patch.profile !== undefined) {
      for (const [name, value] of Object.entries(patch.profile)) {
        if (value === null) delete next.profile[name];
        else next.profile[name] = value;
      }
    }
    if (patch.disabled !== undefined) next.disabled = patch.disabled;
    if (patch.reauthRequired !== undefined) next.reauthRequired = patch.reauthRequired;
    if (patch.totpSecret !== undefined) next.totpSecret = patch.totpSecret;
    if (patch.totpPendingSecret !== undefined) next.totpPendingSecret = patch.totpPendingSecret;
    if (patch.bumpTokenVersion) {
      next.tokenVersion += 1;
      next.tokenVersionChangedAtMs = patch.updatedAtMs;
    }
    next.updatedAtMs = patch.updatedAtMs;
    assign(user, next);
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
    return revoked.sort(byAge);
  };
  const insertSession = (session: SessionRecord, options: Omit<CreateSessionOptions, 'emit'>) => {
    // A database refuses a second row with one primary key; so does this store.
    if (sessions.has(session.id)) throw new Error('A session with this id exists already.');
    const evicted: SessionRecord[] = [];
    const maxPerUser = options.maxPerUser ?? 0;
    if (maxPerUser > 0) {
      const live = [...sessions.values()]
        .filter((s) => s.userId === session.userId && isLive(s, session.createdAtMs))
        .sort(byAge);
      for (const s of live.slice(0, Math.max(0, live.length - maxPerUser + 1))) {
        evicted.push(revoke(s, session.createdAtMs, 'evicted'));
      }
    }
    put(sessions, session.id, cloneSession(session));
    return {
      evicted,
      newDevice: rememberDevice(session.userId, options.deviceFingerprint, session.createdAtMs),
    };
  };
  const rememberDevice = (userId: string, fingerprint: string | undefined, atMs: number): boolean => {
    if (fingerprint === undefined || devices.has(deviceKey(userId, fingerprint))) return false;
    put(devices, deviceKey(userId, fingerprint), atMs);
    return true;
  };
  const appendEvents = (events: readonly OutboxEventInput[]): void => {
    for (const event of events) {
      if (outbox.has(event.id)) throw new Error('An outbox event with this id exists already.');
      put(outbox, event.id, {
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
  const publicOutbox = ({ leaseOwner: _o, leaseUntilMs: _u, ...record }: StoredEvent): OutboxRecord => ({
    ...record,
    data: structuredClone(record.data),
  });
  const publicToken = ({ voidedAtMs: _v, ...token }: StoredToken): OneTimeTokenRecord => ({ ...token });
  // When a token stopped being usable: used, voided by a newer one, or expired, whichever came first.
  const tokenEndedAt = (t: StoredToken): number =>
    Math.min(t.usedAtMs ?? t.expiresAtMs, t.voidedAtMs ?? t.expiresAtMs, t.expiresAtMs);

  return {
    capabilities: { durable: false, multiProcess: false },

    async createUser(user, options = {}) {
      return atomically(() => {
        if ((user.email !== null && userIdsByEmail.has(user.email)) || users.has(user.id))
          return 'email_taken';
        if (options.identity && identities.has(identityKey(options.identity))) return 'identity_taken';
        put(users, user.id, cloneUser(user));
        if (user.email !== null) put(userIdsByEmail, user.email, user.id);
        if (options.identity) {
          put(identities, identityKey(options.identity), {
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
      });
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
        .sort((a, b) => compare(a.id, b.id))
        .slice(0, Math.max(0, limit))
        .map(cloneUser);
    },
    async updateUser(id, patch, emit) {
      return atomically(() => {
        const user = users.get(id);
        if (!user) return null;
        if (emailTakenByOther(id, patch.email)) return 'email_taken';
        applyUserPatch(user, patch);
        appendEvents(emit?.(cloneUser(user)) ?? []);
        return cloneUser(user);
      });
    },
    async acceptTotpStep(userId, step) {
      const user = users.get(userId);
      if (!user || (user.totpLastStep !== null && user.totpLastStep >= step)) return false;
      user.totpLastStep = step;
      return true;
    },
    async setRecoveryCodes(userId, codeHashes, options) {
      return atomically(() => {
        const user = users.get(userId);
        if (!user) return null;
        if (options.confirmTotp) {
          if (user.totpPendingSecret === null) return null;
          assign(user, { totpSecret: user.totpPendingSecret, totpPendingSecret: null });
        }
        assign(user, { updatedAtMs: options.atMs });
        put(recoveryCodes, userId, new Map(codeHashes.map((hash) => [hash, null])));
        appendEvents(options.emit?.(cloneUser(user)) ?? []);
        return cloneUser(user);
      });
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
        .sort(
          (a, b) =>
            a.createdAtMs - b.createdAtMs || compare(a.issuer, b.issuer) || compare(a.subject, b.subject),
        )
        .map((i) => ({ ...i }));
    },

    async createSession(session, options = {}) {
      return atomically(() => {
        const result = insertSession(session, options);
        appendEvents(options.emit?.(result) ?? []);
        return result;
      });
    },
    async findSession(id) {
      const s = sessions.get(id);
      return s ? cloneSession(s) : null;
    },
    async findSessionWithUser(id) {
      const s = sessions.get(id);
      if (!s) return null;
      const user = users.get(s.userId);
      return { session: cloneSession(s), user: user ? cloneUser(user) : null };
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
    async rotateSessionInOneStep(id, fromGeneration, update) {
      const s = sessions.get(id);
      if (!s) return null;
      const found = users.get(s.userId);
      const user = found ? cloneUser(found) : null;
      const loginLimitMs =
        update.maxLoginAgeMs > 0 ? s.authTimeMs + update.maxLoginAgeMs : Number.POSITIVE_INFINITY;
      const rotates =
        s.generation === fromGeneration &&
        s.revokedAtMs === null &&
        s.dpopJkt === null &&
        update.nowMs < Math.min(s.idleExpiresAtMs, s.absoluteExpiresAtMs, loginLimitMs) &&
        user !== null &&
        !user.disabled &&
        !user.reauthRequired;
      if (!rotates) return { rotated: false, session: cloneSession(s), user };
      s.generation = fromGeneration + 1;
      s.rotatedAtMs = update.nowMs;
      s.lastSeenAtMs = update.nowMs;
      s.idleExpiresAtMs = Math.min(update.nowMs + update.idleTtlMs, s.absoluteExpiresAtMs);
      s.ip = update.ip ?? s.ip;
      s.userAgent = update.userAgent ?? s.userAgent;
      return { rotated: true, session: cloneSession(s), user };
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
      return atomically(() => {
        const s = sessions.get(id);
        if (!s || s.revokedAtMs !== null) return null;
        const revoked = revoke(s, atMs, reason);
        appendEvents(emit?.(revoked) ?? []);
        return revoked;
      });
    },
    async revokeUserSessions(userId, atMs, reason, options = {}) {
      return atomically(() => {
        const revoked = revokeAllOf(userId, atMs, reason, options.exceptSessionId);
        if (revoked.length > 0) appendEvents(options.emit?.(revoked) ?? []);
        return revoked;
      });
    },
    async listLiveSessions(userId, nowMs) {
      return [...sessions.values()]
        .filter((s) => s.userId === userId && isLive(s, nowMs))
        .sort(byAge)
        .map(cloneSession);
    },
    async changePassword(userId, passwordHash, keepSessionId, atMs, emit) {
      return atomically(() => {
        const user = users.get(userId);
        if (!user) return null;
        applyUserPatch(user, { passwordHash, bumpTokenVersion: true, updatedAtMs: atMs });
        const revoked = revokeAllOf(userId, atMs, 'password_changed', keepSessionId ?? undefined);
        const result = { user: cloneUser(user), revoked };
        appendEvents(emit?.(result) ?? []);
        return result;
      });
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
        if (tokenEndedAt(t) < beforeMs) {
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
        .sort((a, b) => (a.revokedAtMs ?? 0) - (b.revokedAtMs ?? 0) || compare(a.id, b.id))
        .slice(0, limit)
        .map(cloneSession);
    },

    async listUsersUpdatedSince(sinceMs, limit) {
      return [...users.values()]
        .filter((u) => u.tokenVersionChangedAtMs !== null && u.tokenVersionChangedAtMs >= sinceMs)
        .sort(
          (a, b) =>
            (a.tokenVersionChangedAtMs ?? 0) - (b.tokenVersionChangedAtMs ?? 0) || compare(a.id, b.id),
        )
        .slice(0, limit)
        .map((u) => ({
          id: u.id,
          tokenVersion: u.tokenVersion,
          updatedAtMs: u.tokenVersionChangedAtMs ?? 0,
        }));
    },

    async createOneTimeToken(record, emit) {
      atomically(() => {
        if (oneTimeTokens.has(record.tokenHash))
          throw new Error('A one-time token with this hash exists already.');
        for (const t of oneTimeTokens.values()) {
          if (
            t.userId === record.userId &&
            t.kind === record.kind &&
            t.usedAtMs === null &&
            t.voidedAtMs === null
          ) {
            assign(t, { voidedAtMs: record.createdAtMs });
          }
        }
        put(oneTimeTokens, record.tokenHash, { ...record, voidedAtMs: null });
        appendEvents(emit?.({ ...record }) ?? []);
      });
    },
    async redeemOneTimeToken(tokenHash, kind, nowMs, effect = {}): Promise<RedeemResult> {
      return atomically(() => {
        const t = oneTimeTokens.get(tokenHash);
        const user = t ? users.get(t.userId) : undefined;
        if (
          !t ||
          !user ||
          t.kind !== kind ||
          t.usedAtMs !== null ||
          t.voidedAtMs !== null ||
          nowMs >= t.expiresAtMs
        ) {
          return { status: 'invalid' };
        }
        if (effect.userPatch && emailTakenByOther(user.id, effect.userPatch.email)) {
          return { status: 'email_taken' };
        }
        const previous = cloneUser(user);
        assign(t, { usedAtMs: nowMs });
        if (effect.userPatch) applyUserPatch(user, { ...effect.userPatch, updatedAtMs: nowMs });
        const revoked = effect.revokeSessions ? revokeAllOf(user.id, nowMs, effect.revokeSessions) : [];
        const created = effect.createSession
          ? insertSession(effect.createSession.session, {
              maxPerUser: effect.createSession.maxPerUser,
              ...(effect.createSession.deviceFingerprint === undefined
                ? {}
                : { deviceFingerprint: effect.createSession.deviceFingerprint }),
            })
          : { evicted: [], newDevice: false };
        appendEvents(
          effect.emit?.({
            user: cloneUser(user),
            previous,
            token: publicToken(t),
            revoked,
            evicted: created.evicted,
            newDevice: created.newDevice,
          }) ?? [],
        );
        return {
          status: 'redeemed',
          token: publicToken(t),
          user: cloneUser(user),
          revoked,
          evicted: created.evicted,
          newDevice: created.newDevice,
        };
      });
    },

    async appendOutbox(events) {
      atomically(() => appendEvents(events));
    },
    async claimOutbox(nowMs, limit, leaseMs, owner) {
      const due = [...outbox.values()]
        .filter((e) => e.state === 'pending' && e.nextAttemptAtMs <= nowMs && e.leaseUntilMs <= nowMs)
        .sort((a, b) => a.nextAttemptAtMs - b.nextAttemptAtMs || compare(a.id, b.id))
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
        .sort((a, b) => b.createdAtMs - a.createdAtMs || compare(b.id, a.id))
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
        .sort((a, b) => b.createdAtMs - a.createdAtMs || compare(b.kid, a.kid))
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
