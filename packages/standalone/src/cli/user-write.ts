import { type Command, CommandFailure, EXIT, plural } from './command.ts';
import { userByEmail } from './user-read.ts';
import { withEngine } from './with-engine.ts';

/** `tessera user roles`. */
export const userRolesCommand: Command = {
  path: ['user', 'roles'],
  summary: "set an account's roles",
  synopsis: '<email> <role,role,…>',
  description:
    'Replaces the roles of the account with this email (comma-separated; "" for none) and bumps its token ' +
    'version, so verifiers refuse its older tokens once the revocation feed tells them; the next refresh ' +
    'carries the new roles.',
  args: { min: 2, max: 2 },
  examples: ['tessera user roles ada@example.com admin,support', 'tessera user roles ada@example.com ""'],
  async run({ args, config, io }) {
    const [email, text] = args as [string, string];
    const roles = text
      .split(',')
      .map((role) => role.trim())
      .filter(Boolean);
    const result = await withEngine(config(), io, async (engine) =>
      engine.updateUser((await userByEmail(engine, email)).id, { roles }),
    );
    io.out(
      `Roles of ${email}: ${roles.join(', ') || '(none)'}; token version ${result.profile.tokenVersion}.\n`,
    );
    return EXIT.ok;
  },
};

/** `tessera user disable`. */
export const userDisableCommand: Command = {
  path: ['user', 'disable'],
  summary: 'disable an account and end its sessions',
  synopsis: '<email>',
  description:
    'Disables the account with this email: every session ends at once and sign-in is refused ' +
    '(account_disabled) until `tessera user enable`.',
  args: { min: 1, max: 1 },
  examples: ['tessera user disable mallory@example.com'],
  async run({ args, config, io }) {
    const email = args[0] as string;
    const ended = await withEngine(config(), io, async (engine) => {
      const user = await userByEmail(engine, email);
      const live = (await engine.listSessions(user.id, null)).length;
      await engine.updateUser(user.id, { disabled: true });
      return live;
    });
    io.out(`Disabled ${email} and ended ${plural(ended, 'session')}.\n`);
    return EXIT.ok;
  },
};

/** `tessera user enable`. */
export const userEnableCommand: Command = {
  path: ['user', 'enable'],
  summary: 'enable a disabled account',
  synopsis: '<email>',
  description:
    'Lets the account with this email sign in again. Sessions ended by `tessera user disable` stay ended.',
  args: { min: 1, max: 1 },
  examples: ['tessera user enable mallory@example.com'],
  async run({ args, config, io }) {
    const email = args[0] as string;
    const wasDisabled = await withEngine(config(), io, async (engine) => {
      const user = await userByEmail(engine, email);
      if (user.disabled) await engine.updateUser(user.id, { disabled: false });
      return user.disabled;
    });
    io.out(wasDisabled ? `Enabled ${email}: they can sign in again.\n` : `${email} was not disabled.\n`);
    return EXIT.ok;
  },
};

/** `tessera user revoke-session`. */
export const userRevokeSessionCommand: Command = {
  path: ['user', 'revoke-session'],
  summary: 'end one session',
  synopsis: '<session-id>',
  description:
    "Ends one session, whoever owns it: its refresh token stops working at once, Tessera's routes refuse " +
    'its access tokens at once, and verifiers within their feed lag. Exits 1 when no live session has this id.',
  args: { min: 1, max: 1 },
  examples: ['tessera user revoke-session KNdUDbz55VnINRL8fjRntQ'],
  async run({ args, config, io }) {
    const id = args[0] as string;
    const ended = await withEngine(config(), io, (engine) => engine.adminRevokeSession(id));
    if (!ended) throw new CommandFailure(`no live session with id ${id}.`);
    io.out(`Ended session ${id}.\n`);
    return EXIT.ok;
  },
};
