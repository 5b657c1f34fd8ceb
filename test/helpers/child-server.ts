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
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), timeoutMs);
    const onData = () => {
      const match = /running at (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${output}`));
    });
  });
  return { child, url, output: () => output };
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
