import type { Engine, Profile, SessionView } from '@tessera/core';
import { type Command, CommandFailure, EXIT, plural, table, UsageError } from './command.ts';
import { withEngine } from './with-engine.ts';

/** The user with `email`, or a failure saying there is none. */
export async function userByEmail(engine: Engine, email: string): Promise<Profile> {
  const user = await engine.findUserByEmail(email);
  if (!user) throw new CommandFailure(`no user with email ${email}.`);
  return user;
}

function day(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function userJson(user: Profile): Record<string, unknown> {
  return {
    id: user.id,
    email: user.email,
    email_verified: user.emailVerified,
    roles: user.roles,
    disabled: user.disabled,
    two_factor: user.twoFactor,
    token_version: user.tokenVersion,
    created_at: user.createdAt.toISOString(),
  };
}

function sessionJson(session: SessionView): Record<string, unknown> {
  return {
    id: session.id,
    device_name: session.deviceName,
    ip: session.ip,
    user_agent: session.userAgent,
    created_at: session.createdAt.toISOString(),
    last_seen_at: session.lastSeenAt.toISOString(),
    expires_at: session.expiresAt.toISOString(),
  };
}

const JSON_OPTION = { json: { type: 'boolean', help: 'one JSON object per line (for scripts)' } } as const;

/** `tessera user list`. */
export const userListCommand: Command = {
  path: ['user', 'list'],
  summary: 'list accounts, a page at a time',
  synopsis: '[--limit N] [--after ID] [--json]',
  description:
    'Lists accounts in id order: id, email, roles, state, two-factor, created. When more follow, the last ' +
    'line (on stderr) gives the command for the next page.',
  options: {
    limit: { type: 'string', placeholder: 'N', help: 'accounts per page, 1 to 200 (default 50)' },
    after: {
      type: 'string',
      placeholder: 'ID',
      help: 'start after this user id (the last of the previous page)',
    },
    ...JSON_OPTION,
  },
  args: { min: 0, max: 0 },
  examples: ['tessera user list', 'tessera user list --limit 200 --json | jq -r .email'],
  async run({ values, config, io }) {
    const limitText = (values.limit as string | undefined) ?? '50';
    const limit = Number(limitText);
    if (!/^\d{1,4}$/.test(limitText) || limit < 1 || limit > 200) {
      throw new UsageError('--limit must be a whole number from 1 to 200.', ['user', 'list']);
    }
    const after = (values.after as string | undefined) ?? null;
    const page = await withEngine(config(), io, (engine) => engine.listUsers({ after, limit }));
    if (values.json === true) {
      for (const user of page.users) io.out(`${JSON.stringify(userJson(user))}\n`);
    } else if (page.users.length === 0) {
      io.err(after === null ? 'No accounts yet.\n' : 'No accounts after that id.\n');
    } else {
      const rows = page.users.map((u) => [
        u.id,
        u.email ?? '(no email)',
        u.roles.join(',') || '-',
        u.disabled ? 'disabled' : 'active',
        u.twoFactor ? '2fa' : '-',
        day(u.createdAt),
      ]);
      io.out(`${table([['ID', 'EMAIL', 'ROLES', 'STATE', '2FA', 'CREATED'], ...rows])}\n`);
    }
    if (page.next !== null) io.err(`More accounts follow: tessera user list --after ${page.next}\n`);
    return EXIT.ok;
  },
};

/** `tessera user find`. */
export const userFindCommand: Command = {
  path: ['user', 'find'],
  summary: 'show one account',
  synopsis: '<email> [--json]',
  description:
    'Shows the account with this email (compared as at sign-up: case and Unicode form do not matter): id, ' +
    'roles, state, two-factor, token version, creation time and live sessions. Exits 1 when there is none.',
  options: { ...JSON_OPTION },
  args: { min: 1, max: 1 },
  examples: ['tessera user find ada@example.com', 'tessera user find ada@example.com --json | jq .roles'],
  async run({ args, values, config, io }) {
    const email = args[0] as string;
    const { user, sessions } = await withEngine(config(), io, async (engine) => {
      const found = await userByEmail(engine, email);
      return { user: found, sessions: await engine.listSessions(found.id, null) };
    });
    if (values.json === true) {
      io.out(`${JSON.stringify({ ...userJson(user), live_sessions: sessions.length })}\n`);
      return EXIT.ok;
    }
    const lines = [
      ['id', user.id],
      ['email', `${user.email ?? '(none)'}${user.emailVerified ? ' (verified)' : ''}`],
      ['roles', user.roles.join(', ') || '(none)'],
      ['state', user.disabled ? 'disabled' : 'active'],
      ['two-factor', user.twoFactor ? 'on' : 'off'],
      ['token version', String(user.tokenVersion)],
      ['created', day(user.createdAt)],
      ['sessions', `${plural(sessions.length, 'live session')} (tessera user sessions ${email})`],
    ];
    io.out(`${table(lines)}\n`);
    return EXIT.ok;
  },
};

/** `tessera user sessions`. */
export const userSessionsCommand: Command = {
  path: ['user', 'sessions'],
  summary: "list an account's live sessions",
  synopsis: '<email> [--json]',
  description:
    'Lists the live sessions of the account with this email, oldest first: session id, device, IP, created, ' +
    'last seen and when it expires unless refreshed. End one with `tessera user revoke-session <id>`.',
  options: { ...JSON_OPTION },
  args: { min: 1, max: 1 },
  examples: [
    'tessera user sessions ada@example.com',
    'tessera user sessions ada@example.com --json | jq -r .id',
  ],
  async run({ args, values, config, io }) {
    const email = args[0] as string;
    const sessions = await withEngine(config(), io, async (engine) =>
      engine.listSessions((await userByEmail(engine, email)).id, null),
    );
    if (values.json === true) {
      for (const session of sessions) io.out(`${JSON.stringify(sessionJson(session))}\n`);
      return EXIT.ok;
    }
    if (sessions.length === 0) {
      io.err(`${email} has no live sessions.\n`);
      return EXIT.ok;
    }
    const rows = sessions.map((s) => [
      s.id,
      s.deviceName ?? '-',
      s.ip ?? '-',
      day(s.createdAt),
      day(s.lastSeenAt),
      day(s.expiresAt),
    ]);
    io.out(`${table([['ID', 'DEVICE', 'IP', 'CREATED', 'LAST SEEN', 'EXPIRES'], ...rows])}\n`);
    return EXIT.ok;
  },
};
