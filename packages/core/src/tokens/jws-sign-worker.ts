// The signing thread of createJwsSigner: receives batches of signing inputs (and any new keys),
// answers with their signatures in the same order.
import type { KeyObject } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import type { SigningAlg } from './keyring.ts';
import { signJwsInput } from './sign-jws.ts';

const keys = new Map<number, KeyObject>();

parentPort?.on(
  'message',
  ({
    batch,
    keys: added,
    jobs,
  }: {
    batch: number;
    keys: Array<[number, KeyObject]>;
    jobs: Array<[number, SigningAlg, string]>;
  }) => {
    for (const [id, key] of added) keys.set(id, key);
    try {
      const signatures = jobs.map(([id, alg, input]) => signJwsInput(input, alg, keys.get(id) as KeyObject));
      parentPort?.postMessage({ batch, signatures });
    } catch (error) {
      parentPort?.postMessage({ batch, error: error instanceof Error ? error.message : String(error) });
    }
  },
);
