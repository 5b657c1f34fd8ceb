import { createEngine, type Engine, type SigningAlg, type Store } from '@tessera/core';
import type { TesseraConfig } from '../config.ts';
import { openStore } from '../open-store.ts';
import { loadOrCreateSecret } from '../secret-file.ts';
import type { CliIo } from './command.ts';

/** Opens the configured store, runs `work` with it, and closes it (also when `work` throws). */
export async function withStore<T>(config: TesseraConfig, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(config.databaseUrl, { dataDir: config.dataDir });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/**
 * Opens the configured store and an engine over it for one admin command, runs `work`, and closes
 * both. A secret generated on the way (no `TESSERA_SECRET`, no file yet) is reported on `io.err`. The engine keeps the algorithm that signs now, so an admin command never rotates keys as a
 * side effect of `TESSERA_SIGNING_ALG` having changed.
 */
export async function withEngine<T>(
  config: TesseraConfig,
  io: Pick<CliIo, 'err'>,
  work: (engine: Engine) => Promise<T>,
): Promise<T> {
  return withStore(config, async (store) => {
    const { secret, generated, path } = loadOrCreateSecret(config);
    if (generated) {
      io.err(
        `tessera: generated a new secret at ${path}: keep it, refresh tokens and signing keys depend on it (or set TESSERA_SECRET).\n`,
      );
    }
    const current = (await store.listSigningKeys()).find((key) => key.retiredAtMs === null);
    // The server's engine options (the policy and token lifetime set how long the keyring keeps retired
    // keys; the session limits decide which sessions are live), but the algorithm that signs now.
    const engine = await createEngine({
      ...config.engine,
      store,
      secret,
      signingAlg: (current?.alg as SigningAlg | undefined) ?? config.engine.signingAlg,
      // Admin commands never sign tokens on a worker thread: a short-lived process needs none.
      signOffThread: false,
    });
    try {
      return await work(engine);
    } finally {
      await engine.close();
    }
  });
}
