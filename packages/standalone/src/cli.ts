import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { isTesseraError } from '@tessera/core';
import { type CliIo, type Command, CommandFailure, EXIT, UsageError } from './cli/command.ts';
import { commandHelp, groupHelp, overview } from './cli/help.ts';
import { COMMANDS, GLOBAL_OPTIONS, GROUPS } from './cli/registry.ts';
import { closest } from './closest.ts';
import { ConfigError, resolveConfig, type TesseraConfig } from './config.ts';
import { StartupError } from './startup-error.ts';

export type { CliIo } from './cli/command.ts';

function version(): string {
  const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  return (JSON.parse(text) as { version: string }).version;
}

/** Finds the command the leading words name: a command, a group with its subcommand, or why not. */
function findCommand(words: readonly string[]): Command | { group: string } | UsageError {
  const [first, second] = words;
  if (first === undefined) return new UsageError('no command given.');
  if (first in GROUPS) {
    if (second === undefined) return { group: first };
    const found = COMMANDS.find((command) => command.path[0] === first && command.path[1] === second);
    if (found) return found;
    const names = COMMANDS.filter((command) => command.path[0] === first).map(
      (command) => command.path[1] as string,
    );
    const hint = closest(second, names);
    return new UsageError(
      `unknown command "${first} ${second}".${hint ? ` Did you mean "tessera ${first} ${hint}"?` : ''}`,
      [first],
    );
  }
  const found = COMMANDS.find((command) => command.path.length === 1 && command.path[0] === first);
  if (found) return found;
  const hint = closest(first, [...new Set(COMMANDS.map((command) => command.path[0] as string)), 'help']);
  return new UsageError(`unknown command "${first}".${hint ? ` Did you mean "tessera ${hint}"?` : ''}`);
}

/** Reads the standard streams (stdin is a terminal only when a person can answer questions). */
function processIo(): CliIo {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    interactive: process.stdin.isTTY === true,
    async ask(question) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
  };
}

function helpTarget(words: readonly string[], io: CliIo): number {
  if (words.length === 0) {
    io.out(overview());
    return EXIT.ok;
  }
  const target = findCommand(words);
  if (target instanceof UsageError) throw target;
  io.out('group' in target ? groupHelp(target.group) : commandHelp(target));
  return EXIT.ok;
}

/**
 * Splits argv into the command's words (at most two: `user list`) and the rest, in order. A leading
 * `--config file` may come before the command.
 */
function splitWords(argv: readonly string[]): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    if (arg === '--config' && words.length === 0) {
      rest.push(...argv.slice(i, i + 2));
      i += 1;
    } else if (
      arg.startsWith('-') ||
      words.length === 2 ||
      (words.length === 1 && !((words[0] as string) in GROUPS))
    ) {
      rest.push(...argv.slice(i));
      break;
    } else {
      words.push(arg);
    }
  }
  return { words, rest };
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const { words, rest } = splitWords(argv);
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  if (words.length === 0) {
    if (rest.includes('--version')) {
      io.out(`${version()}\n`);
      return EXIT.ok;
    }
    if (rest.length === 0 || wantsHelp) return helpTarget([], io);
    throw new UsageError(`unknown option ${rest.find((arg) => arg.startsWith('-')) ?? rest[0]}.`);
  }
  if (words[0] === 'help') {
    return helpTarget([...words.slice(1), ...rest.filter((arg) => !arg.startsWith('-'))].slice(0, 2), io);
  }
  const target = findCommand(words);
  if (target instanceof UsageError) throw target;
  if ('group' in target) {
    if (rest.length === 0 || wantsHelp) {
      io.out(groupHelp(target.group));
      return EXIT.ok;
    }
    throw new UsageError(`unknown option ${rest[0]}.`, [target.group]);
  }
  const command = target;
  const options: ParseArgsOptionsConfig = {};
  for (const [name, option] of Object.entries({ ...command.options, ...GLOBAL_OPTIONS })) {
    options[name] = { type: option.type, ...(option.short ? { short: option.short } : {}) };
  }
  // Session ids are base64url and may start with "-" (1 in 64): a single-dash word longer than one
  // letter is an argument, not a group of short options (no command takes grouped short options).
  const dashed: string[] = [];
  const shielded = rest.map((arg) => {
    if (!/^-[^-]./.test(arg)) return arg;
    dashed.push(arg);
    return `\u0000${dashed.length - 1}`;
  });
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: shielded, options, allowPositionals: true, strict: true });
  } catch (error) {
    const message = (error as Error).message.replace(/\. To specify a positional argument.*$/s, '.');
    throw new UsageError(message.replace(/^Unknown option/, 'unknown option'), command.path);
  }
  if (parsed.values.help === true) {
    io.out(commandHelp(command));
    return EXIT.ok;
  }
  const unshield = (arg: string) =>
    arg.startsWith('\u0000') ? (dashed[Number(arg.slice(1))] as string) : arg;
  const args = parsed.positionals.map(unshield);
  // An option's value may start with "-" too (`--config -settings.json`).
  const values = Object.fromEntries(
    Object.entries(parsed.values).map(([name, value]) => [
      name,
      typeof value === 'string' ? unshield(value) : value,
    ]),
  ) as Record<string, string | boolean | undefined>;
  if (args.length < command.args.min) {
    throw new UsageError(
      `missing argument: tessera ${command.path.join(' ')} ${command.synopsis}`,
      command.path,
    );
  }
  if (args.length > command.args.max) {
    throw new UsageError(`unexpected argument "${args[command.args.max]}".`, command.path);
  }
  let config: TesseraConfig | undefined;
  const configFile = values.config;
  return command.run({
    args,
    values,
    config: () => {
      if (config === undefined) {
        config = resolveConfig(typeof configFile === 'string' ? { configFile } : {});
        // `start` logs them through the server's logger; every other command says them here.
        if (command.path[0] !== 'start') {
          for (const warning of config.warnings) io.err(`tessera: warning: ${warning}\n`);
        }
      }
      return config;
    },
    io,
  });
}

/**
 * Runs the `tessera` command line with `argv` (without the node and script names) and resolves to the
 * exit status: 0 done, 1 failed, 2 wrong usage (with a hint on stderr), 69 the database is
 * unreachable, 78 a bad setting (the message names it). `tessera`, `tessera --help` and
 * `tessera <command> --help` print help and resolve to 0. `start` resolves only when the server stops.
 * `io` replaces the standard streams (tests).
 * @example
 * process.exitCode = await runCli(process.argv.slice(2));
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    if (error instanceof UsageError) {
      const where = error.path.length > 0 ? `tessera ${error.path.join(' ')} --help` : 'tessera --help';
      io.err(`tessera: ${error.message}\nRun '${where}' for usage.\n`);
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      io.err(`tessera: invalid configuration: ${error.message}\n`);
      return EXIT.config;
    }
    if (error instanceof StartupError) {
      io.err(`tessera: ${error.message}\n`);
      return error.kind === 'unavailable' ? EXIT.unavailable : EXIT.config;
    }
    if (error instanceof CommandFailure) {
      io.err(`tessera: ${error.message}\n`);
      return EXIT.failed;
    }
    if (isTesseraError(error)) {
      io.err(`tessera: ${error.message}\n`);
      return error.code === 'service_unavailable' ? EXIT.unavailable : EXIT.failed;
    }
    throw error;
  }
}
