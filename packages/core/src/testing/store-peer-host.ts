// The child process of spawnStorePeer (store-peer.ts): opens a store as told by the first message,
// then runs each method call it receives and answers with the result or the error.
import type { Store } from '../store/store.ts';

/** The optional Store methods a peer forwards when the store it opened has them. */
const OPTIONAL_METHODS = ['findSessionWithUser', 'rotateSessionInOneStep'] as const;

type Call = { id: number; method: string; args: unknown[] };

let store: Store | null = null;

const reply = (message: unknown): void => {
  process.send?.(message);
};

async function handle({ id, method, args }: Call): Promise<void> {
  try {
    if (method === 'open') {
      const [moduleUrl, exportName, options] = args as [string, string, unknown];
      const loaded = (await import(moduleUrl)) as Record<
        string,
        (options: unknown) => Store | Promise<Store>
      >;
      const open = loaded[exportName];
      if (typeof open !== 'function') throw new Error(`${moduleUrl} exports no function ${exportName}.`);
      store = await open(options);
      const opened = store as unknown as Record<string, unknown>;
      const optional = OPTIONAL_METHODS.filter((name) => typeof opened[name] === 'function');
      reply({ id, ok: true, value: { capabilities: store.capabilities, optional } });
      return;
    }
    if (!store) throw new Error('The store is not open.');
    if (method === 'close') {
      await store.close();
      reply({ id, ok: true, value: undefined });
      process.disconnect();
      return;
    }
    const target = (store as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[method];
    if (typeof target !== 'function') throw new Error(`Unknown store method ${method}.`);
    reply({ id, ok: true, value: await target.apply(store, args) });
  } catch (error) {
    const e = error as { name?: unknown; message?: unknown; code?: unknown };
    reply({
      id,
      ok: false,
      error: { name: String(e?.name ?? 'Error'), message: String(e?.message ?? error), code: e?.code },
    });
  }
}

process.on('message', (message: Call) => {
  void handle(message);
});
