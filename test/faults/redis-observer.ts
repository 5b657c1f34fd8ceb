// What a test can see of Tessera's use of Redis from the outside (through redis-cli): who listens on
// the revocation channel, what is published on it, which rate-limit counters exist. Names as
// documented in docs/scaling.md: channel `tessera:revocations`, counters `tessera:rl:*`.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

/** The revocation channel (docs/scaling.md). */
export const REVOCATION_CHANNEL = 'tessera:revocations';

/** How many connections are subscribed to `channel` (`PUBSUB NUMSUB`). */
export function subscriberCount(url: string, channel = REVOCATION_CHANNEL): number {
  const out = execFileSync('redis-cli', ['-u', url, 'PUBSUB', 'NUMSUB', channel], {
    encoding: 'utf8',
    timeout: 5000,
  });
  return Number(out.trim().split('\n')[1] ?? Number.NaN);
}

/** The keys matching `pattern` (`SCAN`). */
export function keysMatching(url: string, pattern: string): string[] {
  const out = execFileSync('redis-cli', ['-u', url, '--scan', '--pattern', pattern], {
    encoding: 'utf8',
    timeout: 5000,
  });
  return out.split('\n').filter(Boolean);
}

/** A subscriber of our own on a channel, recording every message published on it. */
export interface ChannelWatch {
  /** True once a message containing `text` was published. */
  heard(text: string): boolean;
  close(): void;
}

/** Subscribes to `channel` with redis-cli; resolves once the subscription is confirmed. */
export async function watchChannel(url: string, channel = REVOCATION_CHANNEL): Promise<ChannelWatch> {
  const child: ChildProcess = spawn('redis-cli', ['-u', url, 'SUBSCRIBE', channel], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`could not subscribe to ${channel}`)), 5000);
    const check = () => {
      if (output.includes(channel)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`redis-cli exited: ${output}`));
    });
  });
  return {
    heard: (text) => output.includes(text),
    close: () => {
      child.kill('SIGKILL');
    },
  };
}
