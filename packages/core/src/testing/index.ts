export { ONE_STEP_REFUSALS } from './conformance-one-step.ts';
export type { TmpfsOptions } from './disk-full.ts';
export { fillDisk, mountTmpfs, unmountTmpfs } from './disk-full.ts';
export type { TestDpopKey, TestProofClaims } from './dpop-proof.ts';
export { createTestDpopKey, signTestDpopProof } from './dpop-proof.ts';
export type { EngineFixture } from './engine-fixture.ts';
export { createEngineFixture, enableTwoFactor, must, TEST_ARGON2, TEST_SECRET } from './engine-fixture.ts';
export type { TestIdentityProvider, TestProviderKey } from './identity-provider.ts';
export { startTestIdentityProvider } from './identity-provider.ts';
export type { ConformanceStore, ConformanceTest } from './store-conformance.ts';
export { storeConformance } from './store-conformance.ts';
export {
  makeEvent,
  makeIdentity,
  makeOneTimeToken,
  makeSession,
  makeSigningKey,
  makeUser,
  readState,
} from './store-fixtures.ts';
export { spawnStorePeer } from './store-peer.ts';
