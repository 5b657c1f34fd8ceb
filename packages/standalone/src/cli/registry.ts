import type { Command, OptionSpec } from './command.ts';
import { keysListCommand, keysPurgeCommand, keysRotateCommand } from './keys.ts';
import { migrateCommand } from './migrate.ts';
import { revokeAllCommand } from './revoke-all.ts';
import { startCommand } from './start.ts';
import { userFindCommand, userListCommand, userSessionsCommand } from './user-read.ts';
import {
  userDisableCommand,
  userEnableCommand,
  userRevokeSessionCommand,
  userRolesCommand,
} from './user-write.ts';
import { webhooksListCommand, webhooksReplayCommand } from './webhooks.ts';

/** Every `tessera` command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [
  startCommand,
  migrateCommand,
  keysRotateCommand,
  keysListCommand,
  keysPurgeCommand,
  revokeAllCommand,
  userListCommand,
  userFindCommand,
  userSessionsCommand,
  userRolesCommand,
  userDisableCommand,
  userEnableCommand,
  userRevokeSessionCommand,
  webhooksListCommand,
  webhooksReplayCommand,
];

/** Groups of subcommands (`tessera user …`) and what they are about. */
export const GROUPS: Readonly<Record<string, string>> = {
  keys: 'signing keys',
  user: 'accounts and their sessions',
  webhooks: 'webhook events: dead letters and replay',
};

/** Options every command takes. */
export const GLOBAL_OPTIONS: Readonly<Record<'config' | 'help', OptionSpec>> = {
  config: {
    type: 'string',
    help: 'a JSON file of TESSERA_* settings (the environment wins)',
    placeholder: 'file',
  },
  help: { type: 'boolean', short: 'h', help: 'this help' },
};
