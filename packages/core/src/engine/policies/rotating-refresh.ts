import { definePolicy, type SessionPolicy } from './session-policy.ts';

/**
 * `rotating-refresh` (the default): a short access token (10 minutes) and an opaque refresh token that
 * rotates at every refresh, with reuse detection (see `rotate-refresh-token.ts`). Nothing to add to the
 * access token.
 */
export const rotatingRefresh: SessionPolicy = definePolicy({
  name: 'rotating-refresh',
  accessTtl: { defaultSeconds: 600, minSeconds: 1, maxSeconds: 86_400 },
  issuesRefreshToken: true,
  issuesSessionHandle: false,
  renewal: 'refresh',
});
