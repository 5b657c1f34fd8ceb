export type { EngineFixture } from './engine-fixture.ts';
export { createEngineFixture, must, TEST_ARGON2, TEST_SECRET } from './engine-fixture.ts';
export type { ConformanceStore } from './store-conformance.ts';
export { makeSession, makeSigningKey, makeUser, storeConformance } from './store-conformance.ts';
