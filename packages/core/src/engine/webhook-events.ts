import type {
  EmitEvents,
  OutboxEventInput,
  RevokeReason,
  SessionRecord,
  UserRecord,
} from '../store/store.ts';
import { randomBase64url } from '../tokens/random-id.ts';
import type { EngineContext } from './context.ts';

/**
 * The webhook event types (the Standard Webhooks `type`): stable strings, part of the public contract
 * (docs/webhooks.md lists each one's `data`).
 */
export type WebhookEventType =
  | 'user.created'
  | 'session.created'
  | 'session.revoked'
  | 'session.reuse_detected'
  | 'session.dpop_mismatch'
  | 'password.changed'
  | 'password_reset.requested'
  | 'email_verification.requested'
  | 'magic_link.requested'
  | 'email_change.requested'
  | 'email.changed'
  | 'mfa.enabled'
  | 'mfa.disabled';

/** Every {@link WebhookEventType}. */
export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = Object.freeze([
  'user.created',
  'session.created',
  'session.revoked',
  'session.reuse_detected',
  'session.dpop_mismatch',
  'password.changed',
  'password_reset.requested',
  'email_verification.requested',
  'magic_link.requested',
  'email_change.requested',
  'email.changed',
  'mfa.enabled',
  'mfa.disabled',
]);

/**
 * One delivery attempt of an outbox event, as the `deliver` option receives it. The same `id` comes on
 * every attempt (and on a replay): receivers deduplicate by it (it is the `webhook-id` header).
 */
export interface WebhookMessage {
  /** The Standard Webhooks message id (`msg_…`). */
  readonly id: string;
  readonly type: WebhookEventType;
  /** When the event happened (the payload's `timestamp`). */
  readonly timestamp: Date;
  /** The event's `data`, one-time tokens included in the clear (only the outbox holds them sealed). */
  readonly data: Readonly<Record<string, unknown>>;
  /** 1 for the first attempt; the retry schedule allows 8. */
  readonly attempt: number;
  /** When this attempt is made, by the engine's clock (the `webhook-timestamp` header). */
  readonly attemptedAt: Date;
  /** Aborted when the attempt's time is up (`webhookTimeoutSeconds`); pass it to `fetch`. */
  readonly signal: AbortSignal;
}

/**
 * Delivers one webhook message (library mode's `deliver` option; the standalone server posts it as a
 * Standard Webhooks request). Resolving means delivered; throwing (or outliving the attempt's timeout)
 * means failed, and the outbox retries on the Standard Webhooks schedule.
 */
export type WebhookDeliver = (message: WebhookMessage) => Promise<void>;

/** A new Standard Webhooks message id: `msg_` and 128 random bits, base64url. */
export function newWebhookMessageId(): string {
  return `msg_${randomBase64url(16)}`;
}

/**
 * An outbox event of `type` with `data` (JSON-serializable, snake_case keys) that happened at `atMs`,
 * with a new message id. Pass it to a store write through its `emit` callback (see
 * {@link emitWhenDelivering}) so it is written in the same transaction as the change.
 */
export function webhookEvent(
  type: WebhookEventType,
  data: Record<string, unknown>,
  atMs: number,
): OutboxEventInput {
  return { id: newWebhookMessageId(), type, data, createdAtMs: atMs };
}

const NO_EVENTS = (): readonly OutboxEventInput[] => [];

/**
 * The `emit` callback for a store write: `build`'s events when a delivery target is configured (the
 * `deliver` option), else none, so an engine without one writes no outbox rows at all.
 * @example
 * await ctx.store.revokeSession(id, nowMs, 'logout', emitWhenDelivering(ctx, (s) => sessionRevokedEvents([s], 'logout')));
 */
export function emitWhenDelivering<T>(
  ctx: EngineContext,
  build: (result: T) => readonly OutboxEventInput[],
): EmitEvents<T> {
  return ctx.options.deliver === null ? NO_EVENTS : build;
}

/** `user.created`: a user was registered (or created by the app). */
export function userCreatedEvent(user: UserRecord): OutboxEventInput {
  return webhookEvent('user.created', { user_id: user.id, email: user.email }, user.createdAtMs);
}

/**
 * `session.created`: a sign-in, with the device as the session records it and `new_device`: the first
 * time this device (see `device-fingerprint.ts`) signed in to this account.
 */
export function sessionCreatedEvent(session: SessionRecord, newDevice: boolean): OutboxEventInput {
  return webhookEvent(
    'session.created',
    {
      user_id: session.userId,
      session_id: session.id,
      amr: [...session.amr],
      device_name: session.deviceName,
      ip: session.ip,
      user_agent: session.userAgent,
      new_device: newDevice,
    },
    session.createdAtMs,
  );
}

/** `session.revoked`, one per ended session, with the reason (the values of `RevokeReason`). */
export function sessionRevokedEvents(
  sessions: readonly SessionRecord[],
  reason: RevokeReason,
): OutboxEventInput[] {
  return sessions.map((session) =>
    webhookEvent(
      'session.revoked',
      { user_id: session.userId, session_id: session.id, reason },
      session.revokedAtMs ?? session.lastSeenAtMs,
    ),
  );
}

/**
 * `session.reuse_detected`: a retired refresh token was presented, so the session was revoked. `ip` and
 * `user_agent` are the presenter's (perhaps the thief's), `device_name` the session's own.
 */
export function reuseDetectedEvent(
  session: SessionRecord,
  presenter: { ip: string | null; userAgent: string | null },
  atMs: number,
): OutboxEventInput {
  return webhookEvent(
    'session.reuse_detected',
    {
      user_id: session.userId,
      session_id: session.id,
      device_name: session.deviceName,
      ip: presenter.ip,
      user_agent: presenter.userAgent,
    },
    atMs,
  );
}

/**
 * `session.dpop_mismatch`: a DPoP-bound session's refresh token was presented without a proof by its
 * key (`proof`: `missing_proof` or `other_key`); the session was left alive. `ip` and `user_agent` are
 * the presenter's, `device_name` the session's own.
 */
export function dpopMismatchEvent(
  session: SessionRecord,
  presenter: { ip: string | null; userAgent: string | null },
  proof: 'missing_proof' | 'other_key',
  atMs: number,
): OutboxEventInput {
  return webhookEvent(
    'session.dpop_mismatch',
    {
      user_id: session.userId,
      session_id: session.id,
      device_name: session.deviceName,
      ip: presenter.ip,
      user_agent: presenter.userAgent,
      proof,
    },
    atMs,
  );
}

/** `password.changed`: by the user (`via: "change"`) or through a reset link (`via: "reset"`). */
export function passwordChangedEvent(user: UserRecord, via: 'change' | 'reset'): OutboxEventInput {
  return webhookEvent('password.changed', { user_id: user.id, email: user.email, via }, user.updatedAtMs);
}

/** `email.changed`: the account moved to `user.email`; `previous_email` is where to send the notice. */
export function emailChangedEvent(user: UserRecord, previous: UserRecord): OutboxEventInput {
  return webhookEvent(
    'email.changed',
    { user_id: user.id, email: user.email, previous_email: previous.email },
    user.updatedAtMs,
  );
}

/** `mfa.enabled` / `mfa.disabled`: two-factor sign-in was turned on or off for `user`. */
export function mfaEvent(
  type: 'mfa.enabled' | 'mfa.disabled',
  user: UserRecord,
  atMs: number,
): OutboxEventInput {
  return webhookEvent(type, { user_id: user.id, email: user.email }, atMs);
}
