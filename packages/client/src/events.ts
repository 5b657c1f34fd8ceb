/** Why a session ended, as the client tells the app. */
export type SessionEndReason = 'logout' | 'revoked' | 'reuse_detected' | 'expired';

/** The events a client emits, with their payloads. */
export interface ClientEvents {
  signedIn: { expiresIn: number };
  tokenRenewed: { expiresIn: number };
  sessionEnded: { reason: SessionEndReason };
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
