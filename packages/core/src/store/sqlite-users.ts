import type { SqliteContext } from './sqlite-context.ts';
import { toIdentity, toUser } from './sqlite-rows.ts';
import type { Store } from './store.ts';

type UserMethods = Pick<
  Store,
  | 'createUser'
  | 'findUserById'
  | 'findUserByEmail'
  | 'listUsers'
  | 'updateUser'
  | 'acceptTotpStep'
  | 'setRecoveryCodes'
  | 'useRecoveryCode'
  | 'countRecoveryCodes'
  | 'linkIdentity'
  | 'unlinkIdentity'
  | 'findUserByIdentity'
  | 'listIdentities'
  | 'listUsersUpdatedSince'
>;

/** The SQLite store's users, external identities and two-factor state. */
export function sqliteUserMethods({
  s,
  read,
  write,
  insertSession,
  patchUser,
  appendEvents,
}: SqliteContext): UserMethods {
  return {
    createUser: (user, options = {}) =>
      write(() => {
        if (s.userConflict.get({ id: user.id, email: user.email })) return 'email_taken';
        const { identity } = options;
        if (identity && s.identityOwner.get(identity.issuer, identity.subject)) return 'identity_taken';
        s.insertUser.run({
          id: user.id,
          email: user.email,
          emailVerified: user.emailVerified ? 1 : 0,
          passwordHash: user.passwordHash,
          tokenVersion: user.tokenVersion,
          tokenVersionChangedAt: user.tokenVersionChangedAtMs,
          roles: JSON.stringify(user.roles),
          profile: JSON.stringify(user.profile),
          disabled: user.disabled ? 1 : 0,
          reauthRequired: user.reauthRequired ? 1 : 0,
          totpSecret: user.totpSecret,
          totpPendingSecret: user.totpPendingSecret,
          totpLastStep: user.totpLastStep,
          createdAt: user.createdAtMs,
          updatedAt: user.updatedAtMs,
        });
        if (identity) s.insertIdentity.run(identity.issuer, identity.subject, user.id, user.createdAtMs);
        const newDevice = options.session
          ? insertSession(options.session, { deviceFingerprint: options.deviceFingerprint }).newDevice
          : false;
        appendEvents(options.emit?.({ newDevice }) ?? []);
        return 'created';
      }),
    findUserById: (id) =>
      read(() => {
        const row = s.userById.get(id);
        return row ? toUser(row) : null;
      }),
    findUserByEmail: (email) =>
      read(() => {
        const row = s.userByEmail.get(email);
        return row ? toUser(row) : null;
      }),
    listUsers: (afterId, limit) =>
      read(() =>
        (afterId === null
          ? s.usersFirst.all(Math.max(0, limit))
          : s.usersAfter.all(afterId, Math.max(0, limit))
        ).map(toUser),
      ),
    updateUser: (id, patch, emit) =>
      write(() => {
        const user = patchUser(id, patch);
        if (user !== null && user !== 'email_taken') appendEvents(emit?.(user) ?? []);
        return user;
      }),
    listUsersUpdatedSince: (sinceMs, limit) =>
      read(() =>
        s.usersUpdatedSince.all(sinceMs, Math.max(0, limit)).map((row) => ({
          id: row.id as string,
          tokenVersion: row.token_version as number,
          updatedAtMs: row.updated_at as number,
        })),
      ),

    acceptTotpStep: (userId, step) =>
      write(() => Number(s.acceptTotpStep.run({ id: userId, step }).changes) === 1),
    setRecoveryCodes: (userId, codeHashes, options) =>
      write(() => {
        const [row] = options.confirmTotp
          ? s.confirmTotp.all({ id: userId, at: options.atMs })
          : s.touchUser.all({ id: userId, at: options.atMs });
        if (!row) return null;
        s.deleteRecoveryCodes.run(userId);
        for (const hash of codeHashes) s.insertRecoveryCode.run(userId, hash);
        const user = toUser(row);
        appendEvents(options.emit?.(user) ?? []);
        return user;
      }),
    useRecoveryCode: (userId, codeHash, atMs) =>
      write(() => Number(s.useRecoveryCode.run({ user: userId, hash: codeHash, at: atMs }).changes) === 1),
    countRecoveryCodes: (userId) => read(() => s.countRecoveryCodes.get(userId)?.n as number),

    linkIdentity: (userId, identity, atMs) =>
      write(() => {
        const owner = s.identityOwner.get(identity.issuer, identity.subject);
        if (owner) return owner.user_id === userId ? 'already_linked' : 'taken';
        if (!s.userById.get(userId)) return 'taken';
        s.insertIdentity.run(identity.issuer, identity.subject, userId, atMs);
        return 'linked';
      }),
    unlinkIdentity: (userId, identity) =>
      write(() => Number(s.deleteIdentity.run(identity.issuer, identity.subject, userId).changes) === 1),
    findUserByIdentity: (identity) =>
      read(() => {
        const row = s.userByIdentity.get(identity.issuer, identity.subject);
        return row ? toUser(row) : null;
      }),
    listIdentities: (userId) => read(() => s.identitiesOf.all(userId).map(toIdentity)),
  };
}
