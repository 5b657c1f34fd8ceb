import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Store, StoreCapabilities } from '../store/store.ts';

// Sources run as .ts (the @tessera/source condition), the published package as .js.
const HOST = fileURLToPath(
  new URL(import.meta.url.endsWith('.ts') ? './store-peer-host.ts' : './store-peer-host.js', import.meta.url),
);

/** A message from the host: the answer to call `id`, or (id 0) the store opened. */
type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string; code?: unknown } };

const STORE_METHODS = [
  'createUser',
  'findUserById',
  'findUserByEmail',
  'listUsers',
  'updateUser',
  'acceptTotpStep',
  'setRecoveryCodes',
  'useRecoveryCode',
  'countRecoveryCodes',
  'linkIdentity',
  'unlinkIdentity',
  'findUserByIdentity',
  'listIdentities',
  'createSession',
  'findSession',
  'rotateSession',
  'updateSessionAuth',
  'revokeSession',
  'revokeUserSessions',
  'listLiveSessions',
  'changePassword',
  'emergencyRevokeAll',
  'getGlobalNotBeforeMs',
  'sweepSessions',
  'listRevokedSince',
  'listUsersUpdatedSince',
  'createOneTimeToken',
  'redeemOneTimeToken',
  'appendOutbox',
  'claimOutbox',
  'finishOutboxAttempt',
  'listOutbox',
  'replayOutbox',
  'listSigningKeys',
  'addSigningKey',
  'deleteSigningKey',
  'ping',
] as const satisfies ReadonlyArray<Exclude<keyof Store, 'capabilities' | 'close'>>;
// A method added to Store and not to the list above fails to compile here, rather than go missing.
// Optional methods (`findSessionWithUser`, `rotateSessionInOneStep`) are forwarded when the store
// the peer opened has them (the host says which).
type Unlisted = Exclude<
  keyof Store,
  'capabilities' | 'close' | 'findSessionWithUser' | 'rotateSessionInOneStep' | (typeof STORE_METHODS)[number]
>;
const EVERY_METHOD_LISTED: [Unlisted] extends [never] ? true : Unlisted = true;
void EVERY_METHOD_LISTED;

function hasFunction(value: unknown): boolean {
  if (typeof value === 'function') return true;
  if (value === null || typeof value !== 'object') return false;
  return Object.values(value).some(hasFunction);
}

/**
 * Opens a {@link Store} in a child process and returns a proxy whose methods run there: for racing
 * one driver's processes against each other in tests (several processes sharing one SQLite file).
 * The child imports `moduleUrl`, calls its export `exportName` with `options` (structured-cloneable)
 * and awaits the result. Arguments and results cross by structured clone, so `emit` callbacks cannot
 * be passed (the proxy rejects a call carrying a function). `close()` closes the store and ends the
 * child. Rejects if the child cannot open the store.
 * @example
 * const peer = await spawnStorePeer(new URL('./sqlite-store.ts', import.meta.url).href, 'createSqliteStore', { path });
 */
export async function spawnStorePeer(
  moduleUrl: string,
  exportName: string,
  options: unknown,
): Promise<Store> {
  const child: ChildProcess = fork(HOST, [], {
    // Only the module-resolution conditions: the test runner's own flags must not reach the child.
    execArgv: process.execArgv.filter((arg) => arg.startsWith('--conditions') || arg.startsWith('-C')),
    serialization: 'advanced',
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: unknown) => void }>();
  let nextId = 1;
  let exited = false;
  child.on('message', (message: Reply) => {
    const call = pending.get(message.id);
    if (!call) return;
    pending.delete(message.id);
    if (message.ok) call.resolve(message.value);
    else call.reject(Object.assign(new Error(message.error.message), message.error));
  });
  child.on('exit', (code, signal) => {
    exited = true;
    for (const call of pending.values()) {
      call.reject(new Error(`The store peer exited (code ${code}, signal ${signal}).`));
    }
    pending.clear();
  });
  const call = (method: string, args: unknown[]): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (exited) {
        reject(new Error('The store peer has exited.'));
        return;
      }
      const id = nextId++;
      pending.set(id, { resolve, reject });
      child.send({ id, method, args });
    });

  const { capabilities, optional } = (await call('open', [moduleUrl, exportName, options])) as {
    capabilities: StoreCapabilities;
    optional: string[];
  };
  const proxy: Record<string, unknown> = { capabilities };
  for (const method of [...STORE_METHODS, ...optional]) {
    proxy[method] = (...args: unknown[]) =>
      hasFunction(args)
        ? Promise.reject(new TypeError(`${method}: a store peer cannot run callbacks such as emit.`))
        : call(method, args);
  }
  proxy.close = async () => {
    if (exited) return;
    const exit = once(child, 'exit');
    await call('close', []);
    await exit;
  };
  return proxy as unknown as Store;
}
