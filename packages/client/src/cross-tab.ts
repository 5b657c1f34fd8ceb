/** A message between tabs of one origin. Tokens cross only in memory, never through storage. */
export type TabMessage =
  | { type: 'token'; accessToken: string; remainingMs: number; softRemainingMs?: number; bound?: boolean }
  | { type: 'ended'; reason: 'logout' | 'revoked' | 'reuse_detected' | 'expired' };

/** Coordination between the tabs of one browser profile. */
export interface TabLink {
  /** Runs `task` while holding the cross-tab refresh lock (Web Locks), or at once where there are none. */
  withLock<T>(task: () => Promise<T>): Promise<T>;
  post(message: TabMessage): void;
  onMessage(listener: (message: TabMessage) => void): void;
  /** Records that this tab just refreshed (a time only: tokens never touch storage). */
  markRefreshed(): void;
  /** True when some tab recorded a refresh at or after `wallMs`. */
  refreshedSince(wallMs: number): boolean;
  /** Stops listening and closes the channel; later posts are dropped. */
  close(): void;
}

/**
 * Links the tabs through a BroadcastChannel and serializes their refreshes with Web Locks. Where Web
 * Locks are missing the refresh simply runs: the server's grace window makes two tabs presenting the
 * same refresh token end on one successor without a reuse alarm.
 */
export function createTabLink(name: string): TabLink {
  let channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(name) : null;
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  return {
    withLock: <T>(task: () => Promise<T>): Promise<T> =>
      locks ? (locks.request(`${name}:refresh`, task) as Promise<T>) : task(),
    post: (message) => channel?.postMessage(message),
    onMessage(listener) {
      if (channel) channel.onmessage = (event: MessageEvent<TabMessage>) => listener(event.data);
    },
    // A tab granted the lock right after another tab's refresh may run before that tab's broadcast
    // arrives; this marker tells it to wait for the token instead of refreshing a second time.
    markRefreshed() {
      try {
        localStorage.setItem(`${name}:refreshed-at`, String(Date.now()));
      } catch {
        // No storage (private mode, a worker): the server's grace window still keeps tabs consistent.
      }
    },
    refreshedSince(wallMs) {
      try {
        return Number(localStorage.getItem(`${name}:refreshed-at`) ?? 0) >= wallMs;
      } catch {
        return false;
      }
    },
    close() {
      if (channel) channel.onmessage = null;
      channel?.close();
      channel = null;
    },
  };
}

/** A link that reaches no other tab (Node, CLIs, tests). */
export function soloTabLink(): TabLink {
  return {
    withLock: (task) => task(),
    post: () => {},
    onMessage: () => {},
    markRefreshed: () => {},
    refreshedSince: () => false,
    close: () => {},
  };
}
