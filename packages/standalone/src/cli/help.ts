import { type Command, table } from './command.ts';
import { COMMANDS, GLOBAL_OPTIONS, GROUPS } from './registry.ts';

/** `tessera --help`: every command, the global options and the exit statuses. */
export function overview(): string {
  const rows = [
    ...COMMANDS.map((command) => [
      `  ${[...command.path, command.synopsis].filter(Boolean).join(' ')}`,
      command.summary,
    ]),
    ['  help [command]', 'help on one command (or: tessera <command> --help)'],
  ];
  return `Usage: tessera <command> [options]

Tessera: JWT sessions with rotating refresh tokens, as a standalone server and its admin tools.
Settings come from TESSERA_* variables or --config file.json (see the README's Configuration).

Commands:
${table(rows)}

Options:
  --config file   ${GLOBAL_OPTIONS.config.help}
  -h, --help      ${GLOBAL_OPTIONS.help.help}
  --version       print the version

Exit status: 0 done, 1 failed, 2 wrong usage, 69 the database is unreachable, 78 a bad setting.
`;
}

/** `tessera user --help`: the commands of one group. */
export function groupHelp(group: string): string {
  const rows = COMMANDS.filter((command) => command.path[0] === group).map((command) => [
    `  tessera ${command.path.join(' ')}${command.synopsis ? ` ${command.synopsis}` : ''}`,
    command.summary,
  ]);
  return `Usage: tessera ${group} <command> [options]

Commands for ${GROUPS[group]}:
${table(rows)}

Run 'tessera ${group} <command> --help' for one of them.
`;
}

/** `tessera user list --help`: one command's usage, description, options and examples. */
export function commandHelp(command: Command): string {
  const options = Object.entries({ ...command.options, ...GLOBAL_OPTIONS }).map(([name, option]) => {
    const flag = `${option.short ? `-${option.short}, ` : ''}--${name}${option.type === 'string' ? ` ${option.placeholder ?? 'value'}` : ''}`;
    return [`  ${flag}`, option.help];
  });
  return `Usage: tessera ${command.path.join(' ')}${command.synopsis ? ` ${command.synopsis}` : ''}

${wrap(command.description)}

Options:
${table(options)}

Examples:
${command.examples.map((example) => `  ${example}`).join('\n')}
`;
}

function wrap(text: string, width = 96): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width) {
      lines.push(line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(line);
  return lines.join('\n');
}
