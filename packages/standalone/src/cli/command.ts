import type { TesseraConfig } from '../config.ts';

/** Exit statuses of `tessera` (sysexits.h where one fits). */
export const EXIT: Readonly<{ ok: 0; failed: 1; usage: 2; unavailable: 69; config: 78 }> = Object.freeze({
  ok: 0,
  /** The command ran and failed (no such user, no such session). */
  failed: 1,
  /** The command line is wrong: an unknown command or option, a missing argument, a refused confirmation. */
  usage: 2,
  /** A service the command needs (the database) cannot be reached. */
  unavailable: 69,
  /** A setting is wrong. */
  config: 78,
});

/** Where a command reads and writes; tests give their own. */
export interface CliIo {
  /** Command output (what a script pipes). */
  out(text: string): void;
  /** Messages for the person at the terminal: errors, hints, prompts. */
  err(text: string): void;
  /** Whether stdin is a terminal (a person who can answer a question). */
  readonly interactive: boolean;
  /** Asks a question on the terminal and resolves to the answer's line. */
  ask(question: string): Promise<string>;
}

/** What a command's `run` receives. */
export interface CommandContext {
  /** Positional arguments after the command's name. */
  args: string[];
  /** Parsed options (the command's own and `--config`). */
  values: Record<string, string | boolean | undefined>;
  /** Resolves the configuration (throws `ConfigError` naming a bad setting). */
  config(): TesseraConfig;
  io: CliIo;
}

/** One option of a command: its type, an optional one-letter alias, and its help line. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  help: string;
  /** The value's name in help (`--limit N`). */
  placeholder?: string;
}

/** One `tessera` command (or one subcommand of a group such as `user`). */
export interface Command {
  /** The words that name it: `['user', 'list']`. */
  path: readonly string[];
  /** One line for the overview. */
  summary: string;
  /** The argument synopsis after the name: `<email> [--json]`. */
  synopsis: string;
  /** What it does, in a few sentences. */
  description: string;
  /** Options besides `--config` and `--help`, with one line of help each. */
  options?: Readonly<Record<string, OptionSpec>>;
  /** Positional arguments: at least `min`, at most `max`. */
  args: { min: number; max: number };
  /** Example command lines (a `#` comment may follow). */
  examples: readonly string[];
  /** Runs the command; resolves to the exit status. */
  run(ctx: CommandContext): Promise<number>;
}

/** A command line the command cannot accept; the CLI prints it with a hint and exits 2. */
export class UsageError extends Error {
  /** The command whose help the hint points to (`[]`: the overview). */
  readonly path: readonly string[];
  constructor(message: string, path: readonly string[] = []) {
    super(message);
    this.name = 'UsageError';
    this.path = path;
  }
}

/**
 * `1 session`, `2 sessions`: a count with its noun, plural unless the count is one.
 * @example
 * plural(1, 'session'); // '1 session'
 */
export function plural(count: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? noun : pluralNoun}`;
}

/**
 * Lines of aligned columns (two spaces apart; the last column is not padded).
 * @example
 * table([['id', 'email'], ['abc', 'ada@example.com']]);
 */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    )
    .join('\n');
}

/** The command ran and could not do what was asked (no such user); the CLI prints it and exits 1. */
export class CommandFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandFailure';
  }
}

/**
 * Whether a destructive command may go on: `--yes` in `values`, or "yes" typed on a terminal after
 * `question` (this adds the `Type "yes" to continue:` prompt). Off a terminal without `--yes` it
 * throws a {@link UsageError} (`refusal`, then "confirm with --yes"); a declined question prints
 * "Nothing was changed." and resolves to false.
 * @example
 * if (!(await confirmed(ctx, ['revoke-all'], 'revoke-all ends every session', 'This ends every session.'))) return EXIT.failed;
 */
export async function confirmed(
  { values, io }: Pick<CommandContext, 'values' | 'io'>,
  path: readonly string[],
  refusal: string,
  question: string,
): Promise<boolean> {
  if (values.yes === true) return true;
  if (!io.interactive) throw new UsageError(`${refusal}; not on a terminal, so confirm with --yes.`, path);
  const answer = await io.ask(`${question}\nType "yes" to continue: `);
  if (answer.trim().toLowerCase() === 'yes') return true;
  io.err('Nothing was changed.\n');
  return false;
}

/** The `--yes` option of a command that asks before it destroys. */
export const YES_OPTION: Readonly<Record<'yes', OptionSpec>> = Object.freeze({
  yes: { type: 'boolean', short: 'y', help: 'confirm without asking' },
});
