import { randomBytes } from 'node:crypto';
import type { Revocation, RevocationBus } from '@tessera/core';
import { Redis } from 'ioredis';

/** Options of {@link createRedisBus}. */
export interface RedisBusOptions {
  /** A `redis://` or `rediss://` URL. */
  url: string;
  /** Prefix of the channel name, to share one Redis between deployments. Default `tessera:`. */
  prefix?: string;
  /**
   * How long a publish may wait for Redis before it is given up (a frozen Redis must not hold
   * revocations in memory or delay anything). Default 500 ms.
   */
  commandTimeoutMs?: number;
}

/** A revocation bus with its connection state, for health reports and tests. */
export interface RedisBus extends RevocationBus {
  /** True while both the publishing and the subscribing connection are up. */
  connected(): boolean;
}

const RETRY = (attempt: number): number => Math.min(100 * 2 ** Math.min(attempt, 5), 2000);

/**
 * Creates a {@link RevocationBus} over Redis pub/sub. Listeners in this process hear a revocation at
 * once, without a round trip; other instances hear it through Redis. Redis is never the source of
 * truth: `publish` reaches local listeners and resolves at once, sending to Redis without waiting for it;
 * when Redis is down or frozen the message is dropped after `commandTimeoutMs` (the database holds the
 * revocation and every instance's feed polls it), and both connections reconnect by themselves.
 * @example
 * const bus = createRedisBus({ url: 'redis://127.0.0.1:6379' });
 * const engine = await createEngine({ store, secret, issuer, bus });
 */
export function createRedisBus(options: RedisBusOptions): RedisBus {
  const channel = `${options.prefix ?? 'tessera:'}revocations`;
  const instanceId = randomBytes(8).toString('hex');
  const common = {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: RETRY,
  };
  const publisher = new Redis(options.url, { ...common, commandTimeout: options.commandTimeoutMs ?? 500 });
  const subscriber = new Redis(options.url, { ...common, enableOfflineQueue: true });
  // Connection errors are expected while Redis is away; ioredis reconnects by itself.
  publisher.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  const listeners = new Set<(revocation: Revocation) => void>();
  const deliver = (revocation: Revocation): void => {
    for (const listener of listeners) {
      try {
        listener(revocation);
      } catch {
        // One failing listener must not starve the others.
      }
    }
  };
  subscriber.subscribe(channel).catch(() => undefined);
  subscriber.on('message', (_channel: string, message: string) => {
    try {
      const parsed = JSON.parse(message) as { from: string; revocation: Revocation };
      if (parsed.from !== instanceId) deliver(parsed.revocation);
    } catch {
      // Not ours: ignore.
    }
  });

  return {
    async publish(revocation) {
      deliver(revocation);
      // Not awaited: the request that revoked must not wait on Redis (a frozen one would hold it for the
      // command timeout). The message leaves at once; the database and the feed's poll back it up.
      publisher.publish(channel, JSON.stringify({ from: instanceId, revocation })).catch(() => undefined);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    connected: () => publisher.status === 'ready' && subscriber.status === 'ready',
    async close() {
      listeners.clear();
      publisher.disconnect();
      subscriber.disconnect();
    },
  };
}
