import { createHash } from 'node:crypto';
import { TesseraError } from '../errors.ts';
import { normalizeEmail } from '../internal/email.ts';
import { assertInputObject } from '../internal/input.ts';
import type {
  OneTimeTokenKind,
  OneTimeTokenRecord,
  OutboxEventInput,
  RedeemEffect,
  RedeemResult,
  UserRecord,
} from '../store/store.ts';
import { randomBase64url } from '../tokens/random-id.ts';
import { countAttempt, type EngineContext, ipKey } from './context.ts';
import { wakeOutbox } from './outbox-worker.ts';
import { SEALED_TOKEN_FIELD, sealToken } from './sealed-token.ts';
import { newWebhookMessageId, type WebhookEventType } from './webhook-events.ts';

/** The event that hands each kind of token to the app. */
const EVENT_OF_KIND: Readonly<Record<OneTimeTokenKind, WebhookEventType>> = {
  password_reset: 'password_reset.requested',
  email_verification: 'email_verification.requested',
  magic_link: 'magic_link.requested',
  email_change: 'email_change.requested',
};

/** What each kind of token carries for its redemption (see {@link newOneTimeToken}). */
const PAYLOAD_OF_KIND: Partial<Record<OneTimeTokenKind, (request: TokenRequest) => string>> = {
  magic_link: (request) => request.user.id,
  email_change: (request) => request.email,
};

const RANDOM_PART = /^[A-Za-z0-9_-]{43}$/;
/** Longest token accepted: the random part, a dot and an email of 254 code points in base64url. */
export const ONE_TIME_TOKEN_MAX_LENGTH: number = 43 + 1 + 1360;

const INVALID = 'The link is invalid, used, expired or replaced by a newer one; ask for a new one.';

/** The `invalid_one_time_token` error (one answer for unknown, used, expired and voided tokens). */
export function invalidOneTimeToken(message: string = INVALID): TesseraError {
  return new TesseraError('invalid_one_time_token', message, { field: 'token' });
}

/** SHA-256 of a token, base64url: the only form the store keeps. */
export function hashOneTimeToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/**
 * A new one-time token: 256 random bits, base64url (43 characters). A token may carry one public value
 * its redemption needs before it can read anything (the user of a magic link, the new address of an
 * email change) as `<random>.<base64url(value)>`; the hash covers both, so the value cannot be swapped.
 */
export function newOneTimeToken(payload?: string): string {
  const random = randomBase64url(32);
  return payload === undefined ? random : `${random}.${Buffer.from(payload, 'utf8').toString('base64url')}`;
}

/**
 * Checks the shape of a presented token and returns its hash and the value it carries (or `null`).
 * Throws `invalid_one_time_token` for anything a Tessera token cannot look like.
 */
export function presentedOneTimeToken(token: unknown): { hash: string; payload: string | null } {
  if (typeof token !== 'string' || token.length > ONE_TIME_TOKEN_MAX_LENGTH) throw invalidOneTimeToken();
  const dot = token.indexOf('.');
  const random = dot === -1 ? token : token.slice(0, dot);
  if (!RANDOM_PART.test(random)) throw invalidOneTimeToken();
  let payload: string | null = null;
  if (dot !== -1) {
    const encoded = token.slice(dot + 1);
    if (!/^[A-Za-z0-9_-]{1,1360}$/.test(encoded)) throw invalidOneTimeToken();
    payload = Buffer.from(encoded, 'base64url').toString('utf8');
  }
  return { hash: hashOneTimeToken(token), payload };
}

/**
 * Counts a one-time-token request against the client and the account: `account` is the normalized
 * address the mail goes to, known or not, counted before anything is looked up, so the limits answer
 * alike for known and unknown emails and no inbox gets more than its share. Throws `rate_limited`.
 */
export async function countTokenRequest(
  ctx: EngineContext,
  account: string,
  ip: string | null | undefined,
): Promise<void> {
  if (!ctx.limits) return;
  await countAttempt(ctx, ipKey('one-time-token', ip), ctx.limits.oneTimeTokenRequestsPerIp);
  await countAttempt(ctx, `one-time-token:account:${account}`, ctx.limits.oneTimeTokenRequestsPerAccount);
}

/** Requires a delivery target: without one, a token could reach no one. Throws `invalid_configuration`. */
export function assertDelivering(ctx: EngineContext): void {
  if (ctx.options.deliver === null) {
    throw new TesseraError(
      'invalid_configuration',
      'One-time tokens need a delivery target: set the deliver option (TESSERA_WEBHOOK_URL in the standalone server).',
      { field: 'deliver' },
    );
  }
}

/** What {@link issueOneTimeToken} makes a token for. */
export interface TokenRequest {
  kind: OneTimeTokenKind;
  user: UserRecord;
  /** Where the token goes (for `email_change`: the new address). */
  email: string;
  /** More event data (`previous_email`, …). */
  extra?: Record<string, unknown>;
}

/** The token, its record and its event (token sealed) for `request`, made at `nowMs`. */
function prepareToken(
  ctx: EngineContext,
  request: TokenRequest,
  nowMs: number,
): { record: OneTimeTokenRecord; event: OutboxEventInput } {
  const token = newOneTimeToken(PAYLOAD_OF_KIND[request.kind]?.(request));
  const expiresAtMs = nowMs + ctx.options.oneTimeTokenTtlSeconds[request.kind] * 1000;
  const id = newWebhookMessageId();
  const event: OutboxEventInput = {
    id,
    type: EVENT_OF_KIND[request.kind],
    data: {
      user_id: request.user.id,
      email: request.email,
      ...request.extra,
      expires_at: new Date(expiresAtMs).toISOString(),
      [SEALED_TOKEN_FIELD]: sealToken(ctx, id, token),
    },
    createdAtMs: nowMs,
  };
  return {
    record: {
      tokenHash: hashOneTimeToken(token),
      kind: request.kind,
      userId: request.user.id,
      email: request.email,
      createdAtMs: nowMs,
      expiresAtMs,
      usedAtMs: null,
    },
    event,
  };
}

/**
 * Makes a one-time token and stores its hash with its event (the token sealed) in one write, voiding
 * the user's older token of the kind. The outbox worker is not woken: it delivers the event at its next
 * tick (within a second), so the delivery's own work does not follow the request at once, where the
 * timing of the next request could tell a known address from an unknown one.
 */
export async function issueOneTimeToken(ctx: EngineContext, request: TokenRequest): Promise<void> {
  const { record, event } = prepareToken(ctx, request, ctx.clock.now());
  await ctx.store.createOneTimeToken(record, () => [event]);
}

/**
 * The same work as {@link issueOneTimeToken} for a request that must not make a token (an unknown or
 * disabled account): the token, hash and sealed event are made and dropped, and one durable write
 * (the store's heartbeat) commits, so the answer takes as long either way.
 */
export async function issueDecoyToken(ctx: EngineContext, kind: OneTimeTokenKind): Promise<void> {
  const placeholder = { id: '-', email: null } as unknown as UserRecord;
  prepareToken(ctx, { kind, user: placeholder, email: 'decoy@invalid' }, ctx.clock.now());
  await ctx.store.ping({ write: true });
}

/**
 * The shortest time a token request by email takes, in milliseconds. The known and unknown paths do
 * the same work, one durable commit each, but a token's commit writes a few more pages than the
 * decoy's (about 0.1 ms on an idle SSD): every answer waits out this floor, so what is left to time is
 * the floor itself.
 */
export const TOKEN_REQUEST_FLOOR_MS = 25;

/**
 * A token request by email (forgot password, magic link): checks the address, counts the request,
 * then makes a token of `kind` for an account `eligible` says may have one, or does the same work for
 * nothing (an unknown or ineligible account), and answers when a {@link TOKEN_REQUEST_FLOOR_MS} timer
 * armed before the lookup fires (or when the work ends, if later), so neither the answer nor its timing
 * tells them apart.
 * Throws `invalid_email`, `rate_limited`, `invalid_configuration` (no `deliver`).
 */
export async function requestTokenByEmail(
  ctx: EngineContext,
  kind: OneTimeTokenKind,
  input: { email: string; ip?: string | null | undefined },
  eligible: (user: UserRecord) => boolean,
): Promise<void> {
  assertInputObject(input);
  assertDelivering(ctx);
  const email = normalizeEmail(input.email);
  await countTokenRequest(ctx, email, input.ip);
  // Real time, not the engine's clock. Armed before the work, so its deadline does not depend on how
  // long the work takes (a timer set after it would inherit the difference).
  const floor = new Promise((resolve) => setTimeout(resolve, TOKEN_REQUEST_FLOOR_MS));
  try {
    const user = await ctx.store.findUserByEmail(email);
    if (!user || !eligible(user)) await issueDecoyToken(ctx, kind);
    else await issueOneTimeToken(ctx, { kind, user, email });
  } finally {
    await floor;
  }
}

/**
 * Counts a redemption attempt against the client, before any work (a reset hashes the new password
 * first). Throws `rate_limited`.
 */
export async function countRedemption(ctx: EngineContext, ip: string | null | undefined): Promise<void> {
  if (ctx.limits) await countAttempt(ctx, ipKey('redeem', ip), ctx.limits.oneTimeTokenRedemptionsPerIp);
}

/**
 * Redeems a token of `kind` by hash with `effect` (its emit may refuse the redemption by throwing), then
 * wakes the outbox worker. Throws `invalid_one_time_token` (unknown, used, expired, voided) or
 * `email_taken`.
 */
export async function redeemOneTimeToken(
  ctx: EngineContext,
  hash: string,
  kind: OneTimeTokenKind,
  effect: RedeemEffect,
): Promise<Extract<RedeemResult, { status: 'redeemed' }>> {
  const result = await ctx.store.redeemOneTimeToken(hash, kind, ctx.clock.now(), effect);
  if (result.status === 'invalid') throw invalidOneTimeToken();
  if (result.status === 'email_taken') {
    throw new TesseraError('email_taken', 'Another account uses this email address now.', { field: 'email' });
  }
  wakeOutbox(ctx);
  return result;
}

/**
 * A redemption check run inside the redemption's transaction: a token sent to an address that is no
 * longer the account's (the email changed since) is refused, so a link in a mailbox the user left
 * cannot reset the password or sign in.
 */
export function assertSentToCurrentAddress(token: OneTimeTokenRecord, previous: UserRecord): void {
  if (previous.email !== token.email) {
    throw invalidOneTimeToken(
      'This link was sent to an address that is no longer the account’s; ask for a new one.',
    );
  }
}
