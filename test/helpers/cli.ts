import { execFileSync, spawn } from 'node:child_process';
import { runCli } from '@tessera/standalone';
import { TESSERA_BIN } from './child-server.ts';

/** What a `tessera` run printed and how it exited. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end: `input` on stdin (a pipe), both streams gathered, killed after
 * `timeoutMs` (default: never). Never rejects on a non-zero exit.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : null;
    child.once('error', reject);
    child.once('close', (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/**
 * Runs the `tessera` bin in a child process (Node 24, sources) with `env` added to the test's
 * environment, feeding `input` on stdin (a pipe: not a terminal). Never rejects on a non-zero exit.
 */
export function runTessera(
  args: readonly string[],
  env: Record<string, string> = {},
  options: { input?: string; nodeArgs?: readonly string[]; node?: string; bin?: string } = {},
): Promise<CliRun> {
  return runCommand(
    options.node ?? process.execPath,
    [...(options.nodeArgs ?? ['--conditions=@tessera/source']), options.bin ?? TESSERA_BIN, ...args],
    {
      env: { ...process.env, TESSERA_LOG_LEVEL: 'warn', ...env },
      ...(options.input ? { input: options.input } : {}),
    },
  );
}

/**
 * Runs the CLI in this process with captured output: `answers` are what a person at a terminal
 * types when asked (`interactive` says whether stdin is one). Settings come from `process.env`.
 */
export async function runCliCaptured(
  argv: readonly string[],
  options: { interactive?: boolean; answers?: string[] } = {},
): Promise<CliRun & { asked: string[] }> {
  let stdout = '';
  let stderr = '';
  const asked: string[] = [];
  const answers = [...(options.answers ?? [])];
  const code = await runCli(argv, {
    out: (text) => {
      stdout += text;
    },
    err: (text) => {
      stderr += text;
    },
    interactive: options.interactive ?? false,
    async ask(question) {
      asked.push(question);
      return answers.shift() ?? '';
    },
  });
  return { code, stdout, stderr, asked };
}

/** Why `tessera` cannot be run on a pseudo-terminal here (no script(1) from util-linux), or `null`. */
export function terminalProblem(): string | null {
  try {
    execFileSync('script', ['--version'], { stdio: 'ignore' });
    return null;
  } catch {
    return 'script(1) from util-linux is not installed';
  }
}

/**
 * Runs the `tessera` bin on a pseudo-terminal made by script(1), so it sees a person's terminal on
 * stdin, stdout and stderr; `input` is what that person types. Resolves to everything the terminal
 * showed (carriage returns removed) and the exit status.
 */
export async function runOnTerminal(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  input = '',
): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, '--conditions=@tessera/source', TESSERA_BIN, ...args]
    .map((part) => `'${part.replace(/'/g, `'\\''`)}'`)
    .join(' ');
  const run = await runCommand('script', ['-qec', command, '/dev/null'], { env, input });
  return { code: run.code, output: `${run.stdout}${run.stderr}`.replace(/\r/g, '') };
}
