/** A source of the current time. The engine reads time only through a clock, so tests can set it. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

/** The wall clock. */
export const systemClock: Clock = Object.freeze({ now: () => Date.now() });

/** A clock that moves only when told: for exact tests of expiry, idle and grace rules. */
export interface ManualClock extends Clock {
  /** Moves time forward by `ms` milliseconds. */
  advance(ms: number): void;
  /** Sets the current time, in milliseconds since the epoch. */
  set(ms: number): void;
}

/**
 * Creates a {@link ManualClock} starting at `startMs` (default 2030-01-01T00:00:00Z).
 * @example
 * const clock = createManualClock();
 * clock.advance(10 * 60_000); // ten minutes later
 */
export function createManualClock(startMs: number = Date.UTC(2030, 0, 1)): ManualClock {
  let current = startMs;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
    set: (ms) => {
      current = ms;
    },
  };
}
