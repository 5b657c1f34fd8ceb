import type { ChildServer } from '../helpers/child-server.ts';

/** How a stopped server ended. */
export interface Termination {
  /** Milliseconds from the signal to the exit. */
  ms: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when it had to be SIGKILLed after `boundMs`. */
  killed: boolean;
}

/**
 * Sends SIGTERM and waits for the exit, at most `boundMs`; a server still running then is SIGKILLed
 * (so a teardown never hangs) and reported as `killed`.
 */
export async function terminate(server: ChildServer, boundMs = 5000): Promise<Termination> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null)
    return { ms: 0, code: child.exitCode, signal: child.signalCode, killed: false };
  const started = performance.now();
  let killed = false;
  const exited = new Promise<Termination>((resolve) => {
    child.once('exit', (code, signal) => resolve({ ms: performance.now() - started, code, signal, killed }));
  });
  const timer = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, boundMs);
  child.kill('SIGTERM');
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}
