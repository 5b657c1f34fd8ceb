import { describe, it, type TestContext } from 'node:test';
import type { Store, StoreCapabilities } from '../store/store.ts';
import { globalConformance } from './conformance-global.ts';
import { identitiesConformance } from './conformance-identities.ts';
import { lifecycleConformance } from './conformance-lifecycle.ts';
import { oneStepConformance } from './conformance-one-step.ts';
import { oneTimeTokensConformance } from './conformance-one-time-tokens.ts';
import { outboxConformance } from './conformance-outbox.ts';
import { racesConformance } from './conformance-races.ts';
import { sessionsConformance } from './conformance-sessions.ts';
import { twoFactorConformance } from './conformance-two-factor.ts';
import { usersConformance } from './conformance-users.ts';

/** A fresh, isolated store for one test; `reopen` (durable drivers) opens the same data again. */
export interface ConformanceStore {
  store: Store;
  reopen?: () => Promise<Store>;
  /**
   * Opens `count` more stores over the same data, each with its own connection and, where the driver
   * is shared by processes, in its own process (SQLite file: child processes, see `spawnStorePeer`).
   * The suite races them against `store` and closes them. Drivers without it race `store` alone.
   */
  peers?: (count: number) => Promise<Store[]>;
  cleanup: () => Promise<void>;
}

/** One conformance test: its body gets the fixture; `needs` skips it for stores lacking a capability. */
export type ConformanceTest = (
  title: string,
  body: (fixture: ConformanceStore, t: TestContext) => Promise<void>,
  needs?: keyof StoreCapabilities,
) => void;

/**
 * Registers the store conformance suite with `node:test`. Every driver runs it with a `makeStore`
 * that returns a fresh, isolated store (own file, database, schema or key prefix) per test, a
 * `cleanup` that removes it, for durable drivers a `reopen` that opens the same data again, and for
 * drivers that several connections or processes share, `peers`. The suite owns the hard cases:
 * concurrent rotations, first sign-ins, redemptions, TOTP steps, recovery codes and outbox claims
 * with one winner (across processes where the driver allows), sticky revocation, expiry at the exact
 * instant, atomic multi-row operations whose outbox events exist if and only if the change does, and
 * data surviving a reopen. Tests needing a capability the store lacks (`store.capabilities`) are
 * reported as skipped.
 * @example
 * storeConformance('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }));
 */
export function storeConformance(name: string, makeStore: () => Promise<ConformanceStore>): void {
  const test: ConformanceTest = (title, body, needs) => {
    it(title, async (t) => {
      const fixture = await makeStore();
      const opened: Store[] = [];
      const makePeers = fixture.peers;
      const tracked: ConformanceStore = makePeers
        ? {
            ...fixture,
            peers: async (count) => {
              const peers = await makePeers(count);
              opened.push(...peers);
              return peers;
            },
          }
        : fixture;
      try {
        if (needs && !fixture.store.capabilities[needs]) {
          t.skip(`the store is not ${needs}`);
          return;
        }
        await body(tracked, t);
      } finally {
        await Promise.all(opened.map((peer) => peer.close().catch(() => undefined)));
        await fixture.store.close().catch(() => undefined);
        await fixture.cleanup();
      }
    });
  };

  describe(`store conformance: ${name}`, () => {
    usersConformance(test);
    sessionsConformance(test);
    oneStepConformance(test);
    globalConformance(test);
    identitiesConformance(test);
    twoFactorConformance(test);
    oneTimeTokensConformance(test);
    outboxConformance(test);
    racesConformance(test);
    lifecycleConformance(test);
  });
}
