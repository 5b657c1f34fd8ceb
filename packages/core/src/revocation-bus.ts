/**
 * A revocation: what verifiers must refuse from now on.
 * - `session`: every access token of session `sid`; `untilMs` is the latest expiry of any token
 *   it could hold, after which the entry can be forgotten.
 * - `user`: tokens of user `sub` whose `ver` is below `minVersion`, or issued before `notBeforeMs`.
 * - `global`: every token issued before `notBeforeMs` (emergency revoke-all).
 */
export type Revocation =
  | { kind: 'session'; sid: string; sub: string; untilMs: number; atMs: number }
  | { kind: 'user'; sub: string; minVersion?: number; notBeforeMs?: number; untilMs: number; atMs: number }
  | { kind: 'global'; notBeforeMs: number; untilMs: number; atMs: number };

/**
 * Carries revocations between server instances. Delivery is best effort: the database stays the
 * source of truth, so a lost message delays a verifier's view but never un-revokes anything.
 */
export interface RevocationBus {
  /** Sends `revocation` to every subscriber, in this and (for shared buses) other processes. */
  publish(revocation: Revocation): Promise<void>;
  /** Calls `listener` for each revocation published from now on; returns an unsubscribe function. */
  subscribe(listener: (revocation: Revocation) => void): () => void;
  close(): Promise<void>;
}

/** Creates a bus that reaches subscribers in this process only: for a single instance. */
export function createInProcessBus(): RevocationBus {
  const listeners = new Set<(revocation: Revocation) => void>();
  return {
    async publish(revocation) {
      for (const listener of listeners) {
        try {
          listener(revocation);
        } catch {
          // A failing subscriber must not stop delivery to the others.
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      listeners.clear();
    },
  };
}
