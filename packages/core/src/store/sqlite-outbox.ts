import type { SqliteContext } from './sqlite-context.ts';
import { toOutbox, toToken, toUser } from './sqlite-rows.ts';
import type { RedeemResult, SessionRecord, Store } from './store.ts';

type OutboxMethods = Pick<
  Store,
  | 'createOneTimeToken'
  | 'redeemOneTimeToken'
  | 'appendOutbox'
  | 'claimOutbox'
  | 'finishOutboxAttempt'
  | 'listOutbox'
  | 'replayOutbox'
>;

// Longer failure texts are cut: the column holds a hint for operators, not a log.
const MAX_ERROR_LENGTH = 200;

/** The SQLite store's one-time tokens and webhook outbox. */
export function sqliteOutboxMethods(ctx: SqliteContext): OutboxMethods {
  const { s, read, write, appendEvents } = ctx;
  return {
    createOneTimeToken: (record, emit) =>
      write(() => {
        s.voidTokens.run({ user: record.userId, kind: record.kind, at: record.createdAtMs });
        s.insertToken.run(
          record.tokenHash,
          record.kind,
          record.userId,
          record.email,
          record.createdAtMs,
          record.expiresAtMs,
          record.usedAtMs,
        );
        appendEvents(emit?.({ ...record }) ?? []);
      }),
    redeemOneTimeToken: (tokenHash, kind, nowMs, effect = {}) =>
      write((): RedeemResult => {
        const row = s.tokenByHash.get(tokenHash);
        if (
          !row ||
          row.kind !== kind ||
          row.used_at !== null ||
          row.voided_at !== null ||
          nowMs >= (row.expires_at as number)
        ) {
          return { status: 'invalid' };
        }
        const userId = row.user_id as string;
        // Under BEGIN IMMEDIATE nothing changes between these checks and the writes below. A taken
        // email is found before anything is written, so the token stays unused.
        const found = s.userById.get(userId);
        if (!found) return { status: 'invalid' };
        const previous = toUser(found);
        const user = effect.userPatch
          ? ctx.patchUser(userId, { ...effect.userPatch, updatedAtMs: nowMs })
          : previous;
        if (!user) return { status: 'invalid' };
        if (user === 'email_taken') return { status: 'email_taken' };
        const [used] = s.useToken.all({ hash: tokenHash, now: nowMs });
        // Unreachable under the write lock; thrown, not answered, so the patch above rolls back.
        if (!used) throw new Error('The one-time token changed during its redemption.');
        const revoked = effect.revokeSessions
          ? ctx.revokeUserSessions(userId, nowMs, effect.revokeSessions, null)
          : [];
        const created: { evicted: SessionRecord[]; newDevice: boolean } = effect.createSession
          ? ctx.insertSession(effect.createSession.session, effect.createSession)
          : { evicted: [], newDevice: false };
        const token = toToken(used);
        appendEvents(
          effect.emit?.({
            user,
            previous,
            token,
            revoked,
            evicted: created.evicted,
            newDevice: created.newDevice,
          }) ?? [],
        );
        return {
          status: 'redeemed',
          token,
          user,
          revoked,
          evicted: created.evicted,
          newDevice: created.newDevice,
        };
      }),

    appendOutbox: (events) => write(() => appendEvents(events)),
    claimOutbox: (nowMs, limit, leaseMs, owner) =>
      write(() =>
        s.claimEvents
          .all({ owner, until: nowMs + leaseMs, now: nowMs, limit: Math.max(0, limit) })
          .map(toOutbox)
          // RETURNING comes in no promised order.
          .sort((a, b) => a.nextAttemptAtMs - b.nextAttemptAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
      ),
    finishOutboxAttempt: (id, owner, outcome) =>
      write(() => {
        if (outcome.delivered) s.eventDelivered.run({ id, owner, at: outcome.atMs });
        else {
          s.eventFailed.run({
            id,
            owner,
            next: outcome.nextAttemptAtMs,
            error: outcome.error.slice(0, MAX_ERROR_LENGTH),
          });
        }
      }),
    listOutbox: (state, limit) => read(() => s.eventsIn.all(state, Math.max(0, limit)).map(toOutbox)),
    replayOutbox: (id, nowMs) => write(() => Number(s.replayEvent.run({ id, now: nowMs }).changes) === 1),
  };
}
