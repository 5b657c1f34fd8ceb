import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The `tessera` CLI entry point (run it with `--conditions=@tessera/source`). */
export const TESSERA_BIN: string = fileURLToPath(
  new URL('../../packages/standalone/src/bin/tessera.ts', import.meta.url),
);
const BIN = TESSERA_BIN;

/** A free loopback port (bound, then released). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A `tessera start` process. */
export interface ChildServer {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/**
 * Collects a child's stdout and stderr and resolves with the first match of `pattern` in them; rejects
 * after `timeoutMs`, or when the child exits first, with everything it printed.
 * @example
 * const { match } = await waitForOutput(child, /Ready in/, 30_000, 'next start');
 */
export function waitForOutput(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs: number,
  what: string,
): Promise<{ match: RegExpExecArray; output: () => string }> {
  let output = '';
  const collect = (chunk: Buffer | string) => {
    output += chunk;
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${output}`)), timeoutMs);
    const onData = () => {
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve({ match, output: () => output });
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${output}`));
    });
  });
}

/**
 * Runs `tessera start` in a child process with `env` and resolves once it prints its URL
 * (rejects after `timeoutMs` or if it exits first).
 */
export async function startChildServer(
  env: Record<string, string>,
  timeoutMs = 20_000,
): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--conditions=@tessera/source', BIN, 'start'], {
    env: { ...process.env, TESSERA_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { match, output } = await waitForOutput(child, /running at (http:\/\/\S+)/, timeoutMs, 'server');
  return { child, url: match[1] as string, output };
}

/** Stops a child server (SIGKILL by default) and waits for it to exit. */
export async function stopChildServer(
  server: ChildServer,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<void> {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    server.child.once('exit', () => resolve());
    server.child.kill(signal);
  });
}
