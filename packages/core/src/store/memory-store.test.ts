import { storeConformance } from '../testing/store-conformance.ts';
import { createMemoryStore } from './memory-store.ts';

storeConformance('memory', async () => ({ store: createMemoryStore(), cleanup: async () => {} }));
