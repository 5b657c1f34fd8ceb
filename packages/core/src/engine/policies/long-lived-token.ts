import { definePolicy, type SessionPolicy } from './session-policy.ts';

/**
 * `long-lived-token`: one access token of days (7 by default, at most 90), revocable through the session
 * check, the feed and the token version, renewed by nothing: the user signs in again when it expires.
 */
export const longLivedToken: SessionPolicy = definePolicy({
  name: 'long-lived-token',
  accessTtl: { defaultSeconds: 7 * 86_400, minSeconds: 1, maxSeconds: 90 * 86_400 },
  issuesRefreshToken: false,
  issuesSessionHandle: false,
  renewal: 'none',
});
