import { createManualClock, type ManualClock } from '../clock.ts';
import { createEngine, type Engine } from '../engine/create-engine.ts';
import type { EngineOptions } from '../engine/options.ts';
import type { TesseraEvent } from '../events.ts';
import { createMemoryStore } from '../store/memory-store.ts';
import type { Store } from '../store/store.ts';
import { TOTP_PERIOD_SECONDS, totpCode } from '../totp.ts';

/** argon2id parameters for tests only: fast, same code path, explicitly below OWASP's. Production uses OWASP's. */
export const TEST_ARGON2: Readonly<{
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  insecureForTests: true;
}> = Object.freeze({ memoryCost: 1024, timeCost: 1, parallelism: 1, insecureForTests: true });

/** A 32-byte secret for tests. */
export const TEST_SECRET: Uint8Array = new Uint8Array(32).fill(42);

/** An engine over a memory store (or `store`) with a manual clock that records its events. */
export interface EngineFixture {
  engine: Engine;
  store: Store;
  clock: ManualClock;
  events: TesseraEvent[];
}

/**
 * Creates an engine for tests: manual clock, fast argon2id, no rate limits unless given, events
 * recorded. Options override the defaults.
 */
export async function createEngineFixture(options: Partial<EngineOptions> = {}): Promise<EngineFixture> {
  const clock = createManualClock();
  const store = options.store ?? createMemoryStore();
  const events: TesseraEvent[] = [];
  const engine = await createEngine({
    store,
    secret: TEST_SECRET,
    issuer: 'http://127.0.0.1:4000',
    clock,
    argon2: TEST_ARGON2,
    rateLimits: false,
    ...options,
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
  });
  return { engine, store, clock: (options.clock as ManualClock | undefined) ?? clock, events };
}

/** `value`, or a thrown error when it is null or undefined (for tokens a policy may not issue). */
export function must<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new Error('expected a value');
  return value;
}

/**
 * Turns two-factor login on for the user of `accessToken` through the engine (enrol, confirm with the
 * current code), then moves the fixture's clock to the next TOTP step, so the next code is one the
 * engine has not accepted yet. Returns the secret and the recovery codes.
 */
export async function enableTwoFactor(
  fixture: Pick<EngineFixture, 'engine' | 'clock'>,
  accessToken: string,
): Promise<{ secret: string; recoveryCodes: string[] }> {
  const auth = await fixture.engine.authenticate(accessToken);
  const { secret } = await fixture.engine.enrollTotp(auth);
  const { recoveryCodes } = await fixture.engine.confirmTotp(auth, totpCode(secret, fixture.clock.now()));
  fixture.clock.advance(TOTP_PERIOD_SECONDS * 1000);
  return { secret, recoveryCodes };
}
