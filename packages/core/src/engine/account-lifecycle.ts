import { configError, show } from '../internal/option-checks.ts';
import type { OutboxState } from '../store/store.ts';
import type { Authenticated } from './authenticate.ts';
import type { EngineContext } from './context.ts';
import { confirmEmailChange, type EmailChangeRequest, requestEmailChange } from './email-change.ts';
import {
  type EmailVerificationInput,
  requestEmailVerification,
  type VerifiedEmail,
  verifyEmail,
} from './email-verification.ts';
import type { TokenSet } from './issue-tokens.ts';
import {
  type MagicLinkRequest,
  type MagicLinkSignIn,
  requestMagicLink,
  signInWithMagicLink,
} from './magic-link.ts';
import { createOutboxWorker, type OutboxPass } from './outbox-worker.ts';
import {
  type PasswordResetInput,
  type PasswordResetRequest,
  requestPasswordReset,
  resetPassword,
} from './password-reset.ts';
import type { RenewClient } from './policies/session-policy.ts';
import { listWebhookEvents, replayWebhookEvent, type WebhookEventView } from './webhook-admin.ts';

/**
 * The engine's account lifecycle: one-time tokens (password reset, email verification, magic links,
 * email change) and the webhook outbox that hands them, and every other event, to the app. The token
 * flows need the `deliver` option (else they throw `invalid_configuration`).
 */
export interface AccountLifecycle {
  /**
   * `POST /auth/password/forgot`: a reset token to the account's address, or the same work and answer
   * for an unknown or disabled one. Throws `invalid_email`, `rate_limited`.
   */
  requestPasswordReset(input: PasswordResetRequest): Promise<void>;
  /**
   * `POST /auth/password/reset`: sets the password, ends every session, bumps the token version. Throws
   * `invalid_password`, `common_password`, `rate_limited`, `invalid_one_time_token`.
   */
  resetPassword(input: PasswordResetInput): Promise<void>;
  /** A verification link to the user's address. Throws `invalid_request`, `email_already_verified`, `rate_limited`. */
  requestEmailVerification(auth: Authenticated, client?: RenewClient): Promise<void>;
  /** Marks the address a verification token was sent to verified. Throws `rate_limited`, `invalid_one_time_token`. */
  verifyEmail(input: EmailVerificationInput): Promise<VerifiedEmail>;
  /** A sign-in link, or the same work and answer for an unknown, disabled or two-factor account. */
  requestMagicLink(input: MagicLinkRequest): Promise<void>;
  /**
   * Starts a session (`amr: ["email"]`) from a magic-link token. Throws `invalid_request`, `rate_limited`,
   * `invalid_one_time_token`, `account_disabled`.
   */
  signInWithMagicLink(input: MagicLinkSignIn): Promise<TokenSet>;
  /**
   * Sends an email-change token to the new address after checking the current password. Throws
   * `invalid_email`, `invalid_request`, `invalid_credentials`, `rate_limited`, `email_taken`.
   */
  requestEmailChange(auth: Authenticated, input: EmailChangeRequest, client?: RenewClient): Promise<void>;
  /** Moves the account to the address an email-change token carries. Throws `invalid_one_time_token`, `email_taken`. */
  confirmEmailChange(input: EmailVerificationInput): Promise<VerifiedEmail>;
  /** Delivers every outbox event due now (by the engine's clock), once, and says what happened. */
  deliverWebhooks(): Promise<OutboxPass>;
  /**
   * Starts delivering the outbox in the background: a pass every `intervalSeconds` (default 1) and as soon
   * as this engine commits an event. Returns a stop function; `close()` stops it too. Without `deliver`
   * there is never anything to deliver.
   */
  startOutboxWorker(intervalSeconds?: number): () => void;
  /** Outbox events in `state` (default `dead`), newest first, tokens redacted. Throws `invalid_request`. */
  listWebhookEvents(state?: OutboxState, limit?: number): Promise<WebhookEventView[]>;
  /** Makes a dead or delivered event pending again (same id); false when there is none to replay. */
  replayWebhookEvent(id: string): Promise<boolean>;
}

/** The account-lifecycle methods of an engine, and the shutdown of its outbox worker. */
export function createAccountLifecycle(ctx: EngineContext): {
  methods: AccountLifecycle;
  close(): Promise<void>;
} {
  const worker = createOutboxWorker(ctx);
  return {
    methods: {
      requestPasswordReset: (input) => requestPasswordReset(ctx, input),
      resetPassword: (input) => resetPassword(ctx, input),
      requestEmailVerification: (auth, client) => requestEmailVerification(ctx, auth, client),
      verifyEmail: (input) => verifyEmail(ctx, input),
      requestMagicLink: (input) => requestMagicLink(ctx, input),
      signInWithMagicLink: (input) => signInWithMagicLink(ctx, input),
      requestEmailChange: (auth, input, client) => requestEmailChange(ctx, auth, input, client),
      confirmEmailChange: (input) => confirmEmailChange(ctx, input),
      deliverWebhooks: () => worker.runOnce(),
      startOutboxWorker(intervalSeconds = 1) {
        if (typeof intervalSeconds !== 'number' || !(intervalSeconds >= 0.01 && intervalSeconds <= 3600)) {
          throw configError(
            'intervalSeconds',
            `must be a number of seconds from 0.01 to 3600; got ${show(intervalSeconds)}.`,
          );
        }
        return worker.start(intervalSeconds);
      },
      listWebhookEvents: (state, limit) => listWebhookEvents(ctx, state, limit),
      replayWebhookEvent: (id) => replayWebhookEvent(ctx, id),
    },
    close: () => worker.close(),
  };
}
