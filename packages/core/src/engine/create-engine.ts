import { TesseraError } from '../errors.ts';
import { normalizeEmail } from '../internal/email.ts';
import { clientDetails } from '../internal/input.ts';
import { createPasswordHasher } from '../password.ts';
import { createJwsSigner } from '../tokens/jws-signer.ts';
import { createKeyring } from '../tokens/keyring.ts';
import { deriveKeys } from '../tokens/secret.ts';
import { changePassword, updateOwnProfile, updateUser } from './account.ts';
import { createAccountLifecycle } from './account-lifecycle.ts';
import { authenticate, bearerRecords } from './authenticate.ts';
import { createEngineContext, type EngineContext } from './context.ts';
import { currentDpopNonce, verifyDpopProof } from './dpop.ts';
import type { Engine, EngineSettings } from './engine.ts';
import { exchangeIdToken } from './id-token-exchange.ts';
import { findUserByIdentity, linkIdentity, listIdentities, unlinkIdentity } from './identities.ts';
import { introspect } from './introspect.ts';
import { login, register } from './login.ts';
import { confirmTotp, disableTotp, enrollTotp, regenerateRecoveryCodes, twoFactorStatus } from './mfa.ts';
import type { EngineOptions } from './options.ts';
import { policyNamed } from './policies/registry.ts';
import { reauthenticate } from './reauthenticate.ts';
import { resolveEngineOptions } from './resolve-options.ts';
import { listRevocationsSince } from './revocations.ts';
import {
  emergencyRevokeAll,
  logoutWithRefreshToken,
  logoutWithSessionHandle,
  revokeOwnSession,
  revokeSession,
  revokeToken,
  revokeUserSessions,
} from './revoke.ts';
import { refreshSession } from './rotate-refresh-token.ts';
import { startSession } from './start-session.ts';
import { assertRecentAuthentication } from './step-up.ts';
import { createTrustedIssuerRegistry } from './trusted-issuers.ts';
import { createUser, getUser, listUsers } from './users.ts';
import { toProfile, toSessionInfo } from './views.ts';

export type { Engine, EngineSettings } from './engine.ts';

const SWEEP_BATCH = 500;
const SWEEP_MAX_BATCHES = 20;
/** How often keys are re-read from the store, so a rotation by another instance is seen. */
const KEY_RELOAD_INTERVAL_MS = 30_000;

function notUsedByPolicy(ctx: EngineContext, what: string): never {
  throw new TesseraError('invalid_request', `${what} is not used by the ${ctx.options.policy} policy.`);
}

/**
 * Creates the session engine over a store. Resolves and checks the options first
 * ({@link resolveEngineOptions}), then loads (or generates) signing keys.
 * Throws `invalid_configuration` naming a bad option, or an error when the secret cannot decrypt the
 * stored keys.
 * @example
 * const engine = await createEngine({ store: createMemoryStore(), secret, issuer: 'http://127.0.0.1:4000' });
 * const tokens = await engine.register({ email: 'ada@example.com', password: 'correct horse battery' });
 */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  const resolved = resolveEngineOptions(options);
  const policy = policyNamed(resolved.policy);
  const keys = deriveKeys(resolved.secret);
  const keyring = await createKeyring({
    store: resolved.store,
    keyEncryptionKey: keys.keyEncryptionKey,
    alg: resolved.signingAlg,
    clock: resolved.clock,
    // The policy's real token lifetime: a retired key stays published until every token it signed
    // expired, plus the leeway, plus one reload interval (another instance may sign with it that long).
    retiredKeyRetentionMs:
      (resolved.accessTtlSeconds + resolved.clockLeewaySeconds) * 1000 + KEY_RELOAD_INTERVAL_MS,
    reloadIntervalMs: KEY_RELOAD_INTERVAL_MS,
  });
  const ctx = createEngineContext(resolved, policy, {
    keys,
    keyring,
    signer: createJwsSigner({ thread: resolved.signOffThread }),
    hasher: resolved.passwordHasher ?? createPasswordHasher(resolved.argon2),
  });
  const sweepers = new Set<NodeJS.Timeout>();
  const trustedIssuers = createTrustedIssuerRegistry(resolved.trustedIssuers, resolved.trustedIssuerFetch);
  const lifecycle = createAccountLifecycle(ctx);

  const sweep = async (retentionSeconds = 86_400): Promise<number> => {
    const beforeMs = ctx.clock.now() - retentionSeconds * 1000;
    let total = 0;
    for (let batch = 0; batch < SWEEP_MAX_BATCHES; batch += 1) {
      const deleted = await ctx.store.sweepSessions(beforeMs, SWEEP_BATCH);
      total += deleted;
      if (deleted < SWEEP_BATCH) break;
    }
    await keyring.reload();
    return total;
  };

  const settings: EngineSettings = Object.freeze({
    policy: resolved.policy,
    issuer: resolved.issuer,
    audience: resolved.audience,
    clientId: resolved.clientId,
    signingAlg: resolved.signingAlg,
    accessTtlSeconds: resolved.accessTtlSeconds,
    softTtlSeconds: resolved.softTtlSeconds,
    refreshIdleTtlSeconds: resolved.refreshIdleTtlSeconds,
    refreshAbsoluteTtlSeconds: resolved.refreshAbsoluteTtlSeconds,
    reuseGraceSeconds: resolved.reuseGraceSeconds,
    clockLeewaySeconds: resolved.clockLeewaySeconds,
    maxLoginAgeSeconds: resolved.maxLoginAgeSeconds,
    reauthMaxAgeSeconds: resolved.reauthMaxAgeSeconds,
    maxSessionsPerUser: resolved.maxSessionsPerUser,
    profileFields: resolved.profileFields,
    dpop: resolved.dpop,
    dpopNonce: resolved.dpopNonce,
    dpopProofMaxAgeSeconds: resolved.dpopProofMaxAgeSeconds,
    issuesRefreshToken: policy.issuesRefreshToken,
    issuesSessionHandle: policy.issuesSessionHandle,
    renewal: policy.renewal,
    trustedIssuers: Object.freeze(resolved.trustedIssuers.map((issuer) => issuer.issuer)),
    deliversWebhooks: resolved.deliver !== null,
  });

  return {
    ...lifecycle.methods,
    settings,
    register: (input) => register(ctx, input),
    login: (input) => login(ctx, input),
    refresh: (input) => refreshSession(ctx, input),
    authenticate: (token, presentation = {}) => authenticate(ctx, token, clientDetails(presentation)),
    verifyDpopProof: (request) => verifyDpopProof(ctx, request),
    dpopNonce: () => currentDpopNonce(ctx),
    async renew(token, client = {}) {
      if (!policy.renewSoftExpired) return notUsedByPolicy(ctx, 'Renewal');
      return policy.renewSoftExpired(ctx, token, clientDetails(client));
    },
    async exchangeExpired(token, handle, client = {}) {
      if (!policy.exchangeExpired) return notUsedByPolicy(ctx, 'Token exchange');
      return policy.exchangeExpired(ctx, token, handle, clientDetails(client));
    },
    async slide(auth, client = {}) {
      return policy.slide ? policy.slide(ctx, bearerRecords(ctx, auth), clientDetails(client)) : null;
    },
    logoutWithSessionHandle: (handle) => logoutWithSessionHandle(ctx, handle),
    logoutWithRefreshToken: (token) => logoutWithRefreshToken(ctx, token),
    logoutSession: (sessionId) => revokeSession(ctx, sessionId, 'logout'),
    logoutAll: (userId) => revokeUserSessions(ctx, userId, 'logout_all'),
    async listSessions(userId, currentSessionId) {
      const sessions = await ctx.store.listLiveSessions(userId, ctx.clock.now());
      return sessions.map((s) => ({ ...toSessionInfo(s), current: s.id === currentSessionId }));
    },
    revokeOwnSession: (userId, sessionId) => revokeOwnSession(ctx, userId, sessionId),
    adminRevokeSession: (sessionId) => revokeSession(ctx, sessionId, 'admin'),
    adminRevokeUser: (userId) => revokeUserSessions(ctx, userId, 'admin'),
    async changePassword(auth, current, next, client = {}) {
      return changePassword(ctx, bearerRecords(ctx, auth), current, next, clientDetails(client));
    },
    async getProfile(userId) {
      const user = await ctx.store.findUserById(userId);
      if (!user) throw new TesseraError('not_found', 'No such user.');
      return toProfile(user, ctx.profileFields);
    },
    updateProfile: (auth, patch) => updateOwnProfile(ctx, auth, patch),
    updateUser: (userId, update) => updateUser(ctx, userId, update),
    async findUserByEmail(email) {
      let normalized: string;
      try {
        normalized = normalizeEmail(email);
      } catch {
        return null;
      }
      const user = await ctx.store.findUserByEmail(normalized);
      return user ? toProfile(user, ctx.profileFields) : null;
    },
    enrollTotp: (auth) => enrollTotp(ctx, auth),
    confirmTotp: (auth, code) => confirmTotp(ctx, auth, code),
    regenerateRecoveryCodes: (auth) => regenerateRecoveryCodes(ctx, auth),
    disableTotp: (auth, code) => disableTotp(ctx, auth, code),
    getTwoFactorStatus: (userId) => twoFactorStatus(ctx, userId),
    async reauthenticate(auth, input, client = {}) {
      return reauthenticate(ctx, auth, input, clientDetails(client));
    },
    assertRecentAuthentication(auth, requirement) {
      assertRecentAuthentication(ctx, auth, requirement);
    },
    emergencyRevokeAll: () => emergencyRevokeAll(ctx),
    introspect: (token) => introspect(ctx, token),
    revokeToken: (token) => revokeToken(ctx, token),
    jwks: () => keyring.jwks(),
    rotateSigningKey: (alg) => keyring.rotate(alg),
    sweep,
    startSweeper(intervalSeconds = 300) {
      const timer = setInterval(() => {
        sweep().catch(() => {
          // A failed sweep is retried at the next tick; no request waits on it.
        });
      }, intervalSeconds * 1000);
      timer.unref();
      sweepers.add(timer);
      return () => {
        clearInterval(timer);
        sweepers.delete(timer);
      };
    },
    listRevocations: (sinceMs) => listRevocationsSince(ctx, sinceMs ?? Number.NEGATIVE_INFINITY),
    onRevocation: (listener) => ctx.bus.subscribe(listener),
    ping: (options) => ctx.store.ping(options),
    async close() {
      for (const timer of sweepers) clearInterval(timer);
      sweepers.clear();
      await lifecycle.close();
      await ctx.signer.close();
    },
    startSession: (input) => startSession(ctx, input),
    createUser: (input) => createUser(ctx, input),
    getUser: (userId) => getUser(ctx, userId),
    listUsers: (options) => listUsers(ctx, options),
    linkIdentity: (userId, identity) => linkIdentity(ctx, userId, identity),
    unlinkIdentity: (userId, identity) => unlinkIdentity(ctx, userId, identity),
    findUserByIdentity: (identity) => findUserByIdentity(ctx, identity),
    listIdentities: (userId) => listIdentities(ctx, userId),
    exchangeIdToken: (input) => exchangeIdToken(ctx, trustedIssuers, input),
  };
}
