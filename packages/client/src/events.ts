/** Why a session ended, as the client tells the app. */
export type SessionEndReason = 'logout' | 'revoked' | 'reuse_detected' | 'expired';

/**
 * An API refused the token because the user's authentication is too old or too weak for it (RFC 9470
 * `insufficient_user_authentication`): what it asks for. `maxAge` in seconds; `acr` the `acr_values`
 * as sent (acceptable values separated by spaces). Either is `null` when the API did not say.
 */
export interface StepUpRequired {
  maxAge: number | null;
  acr: string | null;
}

/** The events a client emits, with their payloads. */
export interface ClientEvents {
  signedIn: { expiresIn: number };
  tokenRenewed: { expiresIn: number };
  sessionEnded: { reason: SessionEndReason };
  /**
   * `client.fetch` got a 401 `insufficient_user_authentication` (the response goes back to the caller
   * as it is): ask the user to prove who they are again with `client.reauthenticate`, then retry.
   */
  stepUpRequired: StepUpRequired;
}

/** A minimal typed event emitter. */
export interface Emitter {
  on<K extends keyof ClientEvents>(event: K, listener: (payload: ClientEvents[K]) => void): () => void;
  emit<K extends keyof ClientEvents>(event: K, payload: ClientEvents[K]): void;
  /** Forgets every listener. */
  clear(): void;
}

/** Creates an {@link Emitter}; a throwing listener never stops the others. */
export function createEmitter(): Emitter {
  const listeners = new Map<string, Set<(payload: never) => void>>();
  return {
    on(event, listener) {
      let set = listeners.get(event);
      if (!set) {
        set = new Set();
        listeners.set(event, set);
      }
      set.add(listener as (payload: never) => void);
      return () => set?.delete(listener as (payload: never) => void);
    },
    emit(event, payload) {
      for (const listener of listeners.get(event) ?? []) {
        try {
          (listener as (p: typeof payload) => void)(payload);
        } catch {
          // The app's listener failed; the client carries on.
        }
      }
    },
    clear: () => listeners.clear(),
  };
}
