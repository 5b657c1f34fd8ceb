import { configError, show, wholeNumber } from '../internal/option-checks.ts';
import type { OneTimeTokenKind } from '../store/store.ts';
import type { WebhookDeliver } from './webhook-events.ts';

/** Lifetimes of one-time tokens by kind, in seconds. */
export type OneTimeTokenTtls = Readonly<Record<OneTimeTokenKind, number>>;

/** Default lifetimes (DESIGN.md "Account lifecycle"): reset 30 min, verification 24 h, magic link 15 min, email change 24 h. */
export const ONE_TIME_TOKEN_TTL_DEFAULTS: OneTimeTokenTtls = Object.freeze({
  password_reset: 30 * 60,
  email_verification: 24 * 3600,
  magic_link: 15 * 60,
  email_change: 24 * 3600,
});

/** Default time one webhook delivery attempt may take, in seconds. */
export const WEBHOOK_TIMEOUT_DEFAULT_SECONDS = 10;

const TTL_MIN_SECONDS = 60;
const TTL_MAX_SECONDS = 7 * 86_400;

/** The account-lifecycle part of the engine options, as given. */
export interface AccountLifecycleOptions {
  deliver?: WebhookDeliver | undefined;
  webhookTimeoutSeconds?: number | undefined;
  oneTimeTokenTtlSeconds?: Partial<Record<OneTimeTokenKind, number>> | undefined;
}

/** The account-lifecycle options resolved. */
export interface ResolvedAccountLifecycleOptions {
  readonly deliver: WebhookDeliver | null;
  readonly webhookTimeoutSeconds: number;
  readonly oneTimeTokenTtlSeconds: OneTimeTokenTtls;
}

/**
 * Checks and completes the account-lifecycle options: `deliver` a function (or absent: no webhook
 * events are written), `webhookTimeoutSeconds` 1–120 (default 10), each `oneTimeTokenTtlSeconds` entry
 * 60 s to 7 days (defaults {@link ONE_TIME_TOKEN_TTL_DEFAULTS}). Throws `invalid_configuration` naming
 * the option.
 */
export function resolveAccountLifecycleOptions(
  options: AccountLifecycleOptions,
): ResolvedAccountLifecycleOptions {
  const deliver = options.deliver ?? null;
  if (deliver !== null && typeof deliver !== 'function') {
    throw configError('deliver', `must be a function (message) => Promise<void>; got ${show(deliver)}.`);
  }
  const given = options.oneTimeTokenTtlSeconds ?? {};
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw configError('oneTimeTokenTtlSeconds', `must be an object of seconds by kind; got ${show(given)}.`);
  }
  const ttls: Record<string, number> = { ...ONE_TIME_TOKEN_TTL_DEFAULTS };
  for (const [kind, seconds] of Object.entries(given)) {
    const option = `oneTimeTokenTtlSeconds.${kind}`;
    if (!Object.hasOwn(ONE_TIME_TOKEN_TTL_DEFAULTS, kind)) {
      throw configError(
        option,
        `is not a token kind; use ${Object.keys(ONE_TIME_TOKEN_TTL_DEFAULTS).join(', ')}.`,
      );
    }
    if (seconds === undefined) continue;
    ttls[kind] = wholeNumber(option, seconds, TTL_MIN_SECONDS, TTL_MAX_SECONDS, 'seconds');
  }
  return {
    deliver,
    webhookTimeoutSeconds: wholeNumber(
      'webhookTimeoutSeconds',
      options.webhookTimeoutSeconds ?? WEBHOOK_TIMEOUT_DEFAULT_SECONDS,
      1,
      120,
      'seconds',
    ),
    oneTimeTokenTtlSeconds: Object.freeze(ttls as Record<OneTimeTokenKind, number>),
  };
}
