import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SigningAlg } from './keyring.ts';
import { signJwsInput } from './sign-jws.ts';

/** Signs compact-JWS signing inputs, on the process's signing thread when there is a spare core. */
export interface JwsSigner {
  /** The base64url signature of `input` (`header.payload`) with `key` under `alg`. */
  sign(input: string, alg: SigningAlg, key: KeyObject): Promise<string>;
  /** Whether signatures are made on the signing thread (false inline, after a failure or close). */
  threaded(): boolean;
  /** Signs inline from now on (the shared thread stays for other engines; it never holds the process open). */
  close(): Promise<void>;
}

/** The worker's script: a sibling module, run from source (.ts) or from the build (.js). */
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './jws-sign-worker.ts' : './jws-sign-worker.js',
  import.meta.url,
);

interface Pending {
  input: string;
  alg: SigningAlg;
  key: KeyObject;
  resolve: (signature: string) => void;
  reject: (error: unknown) => void;
}

/**
 * One signing thread per process, shared by every engine, started on first use and unref'd. Every
 * signature requested in one event-loop turn goes over in one message and comes back in one, so
 * the event loop keeps only the JSON and base64url work. The thread holds the process open only
 * while signatures are pending. If the thread fails, the requests it held
 * are rejected and signing falls back to the calling thread.
 */
class SigningThread {
  private worker: Worker | null;
  private readonly keyIds = new WeakMap<KeyObject, number>();
  private nextKeyId = 0;
  private queue: Pending[] = [];
  private readonly inFlight = new Map<number, Pending[]>();
  private nextBatch = 0;

  constructor() {
    this.worker = new Worker(WORKER_URL);
    this.worker.on('message', (reply: { batch: number; signatures?: string[]; error?: string }) =>
      this.answer(reply),
    );
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', () => this.fail(new Error('The signing thread stopped.')));
    // Held open only while signatures are pending (after the listeners: adding one refs the port).
    this.worker.unref();
  }

  get alive(): boolean {
    return this.worker !== null;
  }

  sign(input: string, alg: SigningAlg, key: KeyObject): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.queue.push({ input, alg, key, resolve, reject });
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    const items = this.queue;
    this.queue = [];
    if (!this.worker) {
      for (const item of items) signInline(item);
      return;
    }
    const keys: Array<[number, KeyObject]> = [];
    const jobs = items.map(({ input, alg, key }) => {
      let id = this.keyIds.get(key);
      if (id === undefined) {
        id = this.nextKeyId++;
        this.keyIds.set(key, id);
        keys.push([id, key]);
      }
      return [id, alg, input] as const;
    });
    const batch = this.nextBatch++;
    if (this.inFlight.size === 0) this.worker.ref();
    this.inFlight.set(batch, items);
    this.worker.postMessage({ batch, keys, jobs });
  }

  private answer({ batch, signatures, error }: { batch: number; signatures?: string[]; error?: string }) {
    const items = this.inFlight.get(batch) ?? [];
    this.inFlight.delete(batch);
    if (this.inFlight.size === 0) this.worker?.unref();
    for (const [i, item] of items.entries()) {
      const signature = signatures?.[i];
      if (signature) item.resolve(signature);
      else item.reject(new Error(error ?? 'The signing thread returned no signature.'));
    }
  }

  private fail(error: unknown): void {
    this.worker = null;
    for (const items of this.inFlight.values()) for (const item of items) item.reject(error);
    this.inFlight.clear();
  }
}

function signInline({ input, alg, key, resolve, reject }: Pending): void {
  try {
    resolve(signJwsInput(input, alg, key));
  } catch (error) {
    reject(error);
  }
}

let shared: SigningThread | null = null;

/**
 * Creates a signer. With `thread` (default: when the machine has more than one core), signatures
 * are made on the process's shared signing thread; otherwise, or once that thread has failed, with
 * synchronous `crypto.sign` on the calling thread.
 */
export function createJwsSigner(options: { thread?: boolean | undefined } = {}): JwsSigner {
  let useThread = options.thread ?? availableParallelism() > 1;
  return {
    sign(input, alg, key) {
      if (useThread) {
        shared ??= new SigningThread();
        if (shared.alive) return shared.sign(input, alg, key);
      }
      return new Promise((resolve, reject) => signInline({ input, alg, key, resolve, reject }));
    },
    threaded: () => useThread && (shared?.alive ?? true),
    async close() {
      useThread = false;
    },
  };
}
