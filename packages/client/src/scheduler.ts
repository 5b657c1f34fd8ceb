/**
 * When to renew a token that lives `expiresInSeconds` from its receipt: between 70 % and 80 % of its
 * life (the spread is jitter, so many clients do not renew at once). Computed from the server's
 * `expires_in` and a monotonic clock, never from the local wall clock against `exp`, so a skewed
 * device clock cannot break it. `random` is in [0, 1).
 */
export function renewalDelayMs(expiresInSeconds: number, random: number): number {
  const lifeMs = Math.max(0, expiresInSeconds) * 1000;
  return Math.floor(lifeMs * (0.8 - 0.1 * Math.min(Math.max(random, 0), 1)));
}
