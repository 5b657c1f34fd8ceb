import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, it } from 'node:test';
import { type ChildServer, freePort, startChildServer, stopChildServer } from './helpers/child-server.ts';
import { runCliCaptured, runOnTerminal, runTessera, terminalProblem } from './helpers/cli.ts';
import { call, PASSWORD } from './helpers/server.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'tessera-cli-'));
after(() => rmSync(dataDir, { recursive: true, force: true }));

/** Every command, as its words; each must have its own help. */
const COMMANDS = [
  ['start'],
  ['migrate'],
  ['keys', 'rotate'],
  ['keys', 'list'],
  ['keys', 'purge'],
  ['revoke-all'],
  ['user', 'list'],
  ['user', 'find'],
  ['user', 'sessions'],
  ['user', 'roles'],
  ['user', 'disable'],
  ['user', 'enable'],
  ['user', 'revoke-session'],
];

describe('tessera help and usage errors', () => {
  it('a bare tessera, --help, -h and help print the usage on stdout and exit 0', async () => {
    const runs = await Promise.all([[], ['--help'], ['-h'], ['help']].map((args) => runTessera(args)));
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^Usage: tessera <command> \[options\]/);
      for (const words of COMMANDS) assert.ok(run.stdout.includes(`  ${words.join(' ')}`), words.join(' '));
      assert.equal(run.stderr, '');
    }
    assert.equal(runs[0]?.stdout, runs[1]?.stdout);
  });

  it('every command has its own help with examples, by --help and by help <command>', async () => {
    for (const words of COMMANDS) {
      const own = await runCliCaptured([...words, '--help']);
      assert.equal(own.code, 0, words.join(' '));
      assert.ok(own.stdout.startsWith(`Usage: tessera ${words.join(' ')}`), own.stdout);
      assert.match(own.stdout, /\nExamples:\n {2}tessera /);
      assert.doesNotMatch(own.stdout, /Commands:/, 'not the global usage');
      const viaHelp = await runCliCaptured(['help', ...words]);
      assert.equal(viaHelp.stdout, own.stdout);
    }
    const group = await runTessera(['user']);
    assert.equal(group.code, 0);
    assert.match(group.stdout, /^Usage: tessera user <command>/);
    assert.match(group.stdout, /tessera user revoke-session <session-id>/);
    assert.equal((await runCliCaptured(['user', '--help'])).stdout, group.stdout);
  });

  it('prints the version', async () => {
    const run = await runCliCaptured(['--version']);
    const { version } = JSON.parse(
      readFileSync(new URL('../packages/standalone/package.json', import.meta.url), 'utf8'),
    );
    assert.equal(run.stdout, `${version}\n`);
  });

  it('unknown commands, options and arguments exit 2 with a short hint on stderr', async () => {
    const cases: Array<[string[], RegExp, RegExp]> = [
      [['frobnicate'], /unknown command "frobnicate"/, /Run 'tessera --help'/],
      [['strat'], /Did you mean "tessera start"\?/, /Run 'tessera --help'/],
      [['user', 'lst'], /Did you mean "tessera user list"\?/, /Run 'tessera user --help'/],
      [['user', 'list', '--bogus'], /unknown option '--bogus'/, /Run 'tessera user list --help'/],
      [['--bogus'], /unknown option --bogus/, /Run 'tessera --help'/],
      [['user', 'find'], /missing argument: tessera user find <email>/, /tessera user find --help/],
      [['user', 'enable', 'a@example.com', 'b@example.com'], /unexpected argument "b@example.com"/, /--help/],
      [['migrate', '--demo'], /unknown option '--demo'/, /tessera migrate --help/],
      [['user', 'list', '--limit', '0'], /--limit must be a whole number from 1 to 200/, /--help/],
      [['keys', 'rotate', '--alg', 'HS256'], /--alg must be one of EdDSA, ES256, RS256/, /--help/],
    ];
    for (const [args, problem, hint] of cases) {
      const run = await runCliCaptured(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, problem);
      assert.match(run.stderr, hint);
      assert.ok(run.stderr.trim().split('\n').length <= 2, `short: ${run.stderr}`);
    }
    // The real process exits with the status too.
    assert.equal((await runTessera(['frobnicate'])).code, 2);
  });

  it('refuses a bad setting with a message naming it (exit 78)', async () => {
    const run = await runTessera(['migrate'], {
      TESSERA_DATA_DIR: dataDir,
      TESSERA_ACCESS_TTL: 'ten minutes',
    });
    assert.equal(run.code, 78);
    assert.match(run.stderr, /invalid configuration: TESSERA_ACCESS_TTL: "ten minutes" is not a duration/);
    const format = await runTessera(['start'], { TESSERA_DATA_DIR: dataDir, TESSERA_LOG_FORMAT: 'fancy' });
    assert.equal(format.code, 78);
    assert.match(format.stderr, /TESSERA_LOG_FORMAT: "fancy" must be auto, pretty or json/);
  });

  it('warns about a misspelled TESSERA_* variable, naming the closest setting, and goes on', async () => {
    const run = await runTessera(['migrate'], { TESSERA_DATA_DIR: dataDir, TESSERA_ACESS_TTL: '5m' });
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stderr,
      /tessera: warning: TESSERA_ACESS_TTL is not a Tessera setting and is ignored; did you mean TESSERA_ACCESS_TTL\?/,
    );
  });
});

describe('tessera start, keys and the first start', () => {
  it('generates and keeps the secret, encrypts signing keys at rest, and serves', async () => {
    const port = await freePort();
    const server = await startChildServer({ TESSERA_PORT: String(port), TESSERA_DATA_DIR: dataDir });
    try {
      assert.match(server.output(), /Generated a new secret/);
      assert.match(server.output(), new RegExp(`running at http://127\\.0\\.0\\.1:${port}`));
      const secretFile = join(dataDir, 'secret');
      assert.equal(statSync(secretFile).mode & 0o777, 0o600);
      assert.ok(Buffer.from(readFileSync(secretFile, 'utf8').trim(), 'base64url').length >= 32);
      const reg = await call(server.url, 'POST', '/auth/register', {
        json: { email: 'cli@example.com', password: PASSWORD },
      });
      assert.equal(reg.status, 201);
      const db = new DatabaseSync(join(dataDir, 'tessera.db'), { readOnly: true });
      const rows = db.prepare('SELECT private_jwk_encrypted, public_jwk FROM signing_keys').all() as Array<
        Record<string, string>
      >;
      db.close();
      assert.equal(rows.length, 1);
      const sealed = Buffer.from(rows[0]?.private_jwk_encrypted ?? '', 'base64url').toString('latin1');
      assert.ok(!sealed.includes('"d"'), 'the private key is not stored in clear');
      assert.ok(!(rows[0]?.public_jwk ?? '').includes('"d"'));
    } finally {
      await stopChildServer(server, 'SIGTERM');
    }
    // A second start reuses the secret (no new warning) and the sessions.
    const again = await startChildServer({
      TESSERA_PORT: String(await freePort()),
      TESSERA_DATA_DIR: dataDir,
    });
    try {
      assert.doesNotMatch(again.output(), /Generated a new secret/);
      const login = await call(again.url, 'POST', '/auth/login', {
        json: { email: 'cli@example.com', password: PASSWORD },
      });
      assert.equal(login.status, 200);
    } finally {
      await stopChildServer(again, 'SIGTERM');
    }
  });

  it('rotates keys and lists them; admin commands keep the signing algorithm', async () => {
    const env = { TESSERA_DATA_DIR: dataDir };
    const before = await runTessera(['keys', 'list'], env);
    assert.equal(before.stdout.trim().split('\n').length, 1);
    const rotated = await runTessera(['keys', 'rotate', '--alg', 'ES256'], env);
    assert.match(rotated.stdout, /New signing key \S+ \(ES256\)/);
    const listed = (await runTessera(['keys', 'list'], env)).stdout.trim().split('\n');
    assert.equal(listed.length, 2);
    assert.match(listed[0] ?? '', /\tES256\t.*\tsigning$/);
    assert.match(listed[1] ?? '', /\tEdDSA\t.*\tretired /);
    const roles = await runTessera(['user', 'roles', 'cli@example.com', 'admin,support'], env);
    assert.match(roles.stdout, /admin, support; token version 2/);
    assert.match(
      (await runTessera(['keys', 'list'], env)).stdout.trim().split('\n')[0] ?? '',
      /\tES256\t.*\tsigning$/,
    );
    const missing = await runTessera(['user', 'roles', 'nobody@example.com', 'x'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no user with email nobody@example.com/);
  });
});

describe('tessera keys purge: the response to a stolen TESSERA_SECRET', () => {
  const purgeDir = mkdtempSync(join(tmpdir(), 'tessera-cli-purge-'));
  after(() => rmSync(purgeDir, { recursive: true, force: true }));
  const OLD_SECRET = Buffer.alloc(32, 1).toString('base64url');
  const NEW_SECRET = Buffer.alloc(32, 2).toString('base64url');
  const jwksKids = async (url: string) =>
    ((await call(url, 'GET', '/.well-known/jwks.json')).body.keys as Array<{ kid: string }>).map(
      (k) => k.kid,
    );

  it('refuses without confirmation, then deletes every key so a new secret can start with a new one', async () => {
    const env = { TESSERA_DATA_DIR: purgeDir, TESSERA_SECRET: OLD_SECRET };
    const first = await startChildServer({ ...env, TESSERA_PORT: String(await freePort()) });
    const oldKids = await jwksKids(first.url);
    await stopChildServer(first, 'SIGTERM');
    assert.equal((await runTessera(['keys', 'rotate'], env)).code, 0);
    const listed = (await runTessera(['keys', 'list'], env)).stdout.trim().split('\n');
    assert.equal(listed.length, 2, 'one signing, one retired and still published');

    // Under the new secret the old keys do not open: nothing starts until they are gone.
    const refusedStart = await runTessera(['start'], {
      ...env,
      TESSERA_SECRET: NEW_SECRET,
      TESSERA_PORT: '0',
    });
    assert.notEqual(refusedStart.code, 0);
    assert.equal(refusedStart.stdout, '');

    const refused = await runTessera(['keys', 'purge'], env);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /keys purge deletes every signing key; not on a terminal, so confirm with --yes/,
    );
    const saved = { ...process.env };
    try {
      process.env.TESSERA_DATA_DIR = purgeDir;
      process.env.TESSERA_SECRET = OLD_SECRET;
      const declined = await runCliCaptured(['keys', 'purge'], { interactive: true, answers: ['no'] });
      assert.equal(declined.code, 1);
      assert.match(declined.asked[0] ?? '', /This deletes every signing key/);
      assert.match(declined.stderr, /Nothing was changed/);
    } finally {
      process.env = saved;
    }
    assert.equal(
      (await runTessera(['keys', 'list'], env)).stdout.trim().split('\n').length,
      2,
      'nothing deleted',
    );

    // The database is all it needs: it runs under the new secret too.
    const purged = await runTessera(['keys', 'purge', '--yes'], { ...env, TESSERA_SECRET: NEW_SECRET });
    assert.equal(purged.code, 0, purged.stderr);
    assert.match(
      purged.stdout,
      /^Deleted 2 signing keys \(\S+, \S+\)\. Start every instance with a new TESSERA_SECRET/,
    );
    assert.equal((await runTessera(['keys', 'list'], env)).stdout, '');

    const restarted = await startChildServer({
      ...env,
      TESSERA_SECRET: NEW_SECRET,
      TESSERA_PORT: String(await freePort()),
    });
    try {
      const newKids = await jwksKids(restarted.url);
      assert.equal(newKids.length, 1);
      assert.ok(!oldKids.includes(newKids[0] as string), 'a new key, and none of the old ones published');
      const registered = await call(restarted.url, 'POST', '/auth/register', {
        json: { email: 'after-purge@example.com', password: PASSWORD },
      });
      assert.equal(registered.status, 201, registered.text);
    } finally {
      await stopChildServer(restarted, 'SIGTERM');
    }
    assert.match((await runTessera(['keys', 'purge', '-y'], env)).stdout, /^Deleted 1 signing key \(\S+\)\./);
  });
});

describe('tessera user and revoke-all against a running server', () => {
  const userDir = mkdtempSync(join(tmpdir(), 'tessera-cli-users-'));
  let server: ChildServer;
  const saved = { ...process.env };
  before(async () => {
    // The in-process CLI reads the same settings as the server: one SQLite file, one secret.
    process.env.TESSERA_DATA_DIR = userDir;
    process.env.TESSERA_LOG_LEVEL = 'warn';
    server = await startChildServer({
      TESSERA_PORT: String(await freePort()),
      TESSERA_DATA_DIR: userDir,
      TESSERA_RATE_LIMIT: 'off',
    });
  });
  after(async () => {
    await stopChildServer(server, 'SIGTERM');
    process.env = saved;
    rmSync(userDir, { recursive: true, force: true });
  });

  const login = async (email: string) => {
    const response = await call(server.url, 'POST', '/auth/login', { json: { email, password: PASSWORD } });
    return response;
  };
  const refresh = (token: string) =>
    call(server.url, 'POST', '/auth/refresh', { json: { refresh_token: token } });

  it('lists users a page at a time, as a table or JSON lines', async () => {
    const emails = ['ada@example.com', 'bob@example.com', 'cy@example.com'];
    for (const email of emails) {
      const reg = await call(server.url, 'POST', '/auth/register', { json: { email, password: PASSWORD } });
      assert.equal(reg.status, 201);
    }
    const first = await runCliCaptured(['user', 'list', '--limit', '2']);
    assert.equal(first.code, 0, first.stderr);
    const lines = first.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /^ID\s+EMAIL\s+ROLES\s+STATE\s+2FA\s+CREATED$/);
    assert.equal(lines.length, 3);
    const next = /More accounts follow: tessera user list --after (\S+)/.exec(first.stderr)?.[1];
    assert.ok(next, first.stderr);
    const second = await runCliCaptured(['user', 'list', '--limit', '2', '--after', next, '--json']);
    const rest = second.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { email: string; disabled: boolean; roles: string[] });
    assert.equal(rest.length, 1);
    assert.doesNotMatch(second.stderr, /More accounts follow/);
    const all = (await runCliCaptured(['user', 'list', '--json'])).stdout.trim().split('\n');
    assert.deepEqual(all.map((line) => JSON.parse(line).email).sort(), emails);
    for (const line of all) assert.doesNotMatch(line, /hash|secret|salt/i);
  });

  it('finds a user, lists their sessions, ends one, and the server refuses its refresh token', async () => {
    const laptop = await login('ada@example.com');
    assert.equal(laptop.status, 200);
    const found = await runCliCaptured(['user', 'find', 'ADA@example.com']);
    assert.equal(found.code, 0, found.stderr);
    assert.match(found.stdout, /^id\s+\S+\nemail\s+ada@example\.com\n/);
    assert.match(found.stdout, /sessions\s+2 live sessions/);
    const json = JSON.parse((await runCliCaptured(['user', 'find', 'ada@example.com', '--json'])).stdout);
    assert.equal(json.email, 'ada@example.com');
    assert.equal(json.live_sessions, 2);

    const sessions = await runCliCaptured(['user', 'sessions', 'ada@example.com', '--json']);
    const ids = sessions.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).id as string);
    assert.equal(ids.length, 2);
    assert.ok(ids.includes(laptop.body.session_id));
    const table = await runCliCaptured(['user', 'sessions', 'ada@example.com']);
    assert.match(table.stdout, /^ID\s+DEVICE\s+IP\s+CREATED\s+LAST SEEN\s+EXPIRES\n/);

    const ended = await runCliCaptured(['user', 'revoke-session', laptop.body.session_id]);
    assert.equal(ended.code, 0, ended.stderr);
    assert.equal(ended.stdout, `Ended session ${laptop.body.session_id}.\n`);
    const refused = await refresh(laptop.body.refresh_token);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, 'invalid_grant');
    const again = await runCliCaptured(['user', 'revoke-session', laptop.body.session_id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no live session with id/);
    // Ids are base64url: one in 64 starts with "-", and is an argument, not an option.
    const dashed = await runCliCaptured(['user', 'revoke-session', '-KNdUDbz55VnINRL8fjRntQ']);
    assert.equal(dashed.code, 1, dashed.stderr);
    assert.match(dashed.stderr, /no live session with id -KNdUDbz55VnINRL8fjRntQ/);
    // So may an option's value.
    const config = await runCliCaptured(['user', 'list', '--config', '-no-such-settings.json']);
    assert.equal(config.code, 78, config.stderr);
    assert.match(config.stderr, /cannot read \S*-no-such-settings\.json/);
    assert.equal((await runCliCaptured(['user', 'sessions', 'nobody@example.com'])).code, 1);
  });

  it('disables and enables an account, with correct plurals', async () => {
    const session = await login('bob@example.com');
    const disabled = await runCliCaptured(['user', 'disable', 'bob@example.com']);
    assert.equal(disabled.stdout, 'Disabled bob@example.com and ended 2 sessions.\n');
    assert.equal((await refresh(session.body.refresh_token)).status, 400);
    const refusedLogin = await login('bob@example.com');
    assert.equal(refusedLogin.status, 403);
    assert.equal(refusedLogin.body.error, 'account_disabled');
    const listed = JSON.parse(
      (await runCliCaptured(['user', 'find', 'bob@example.com', '--json'])).stdout,
    ) as { disabled: boolean };
    assert.equal(listed.disabled, true);

    const enabled = await runCliCaptured(['user', 'enable', 'bob@example.com']);
    assert.equal(enabled.stdout, 'Enabled bob@example.com: they can sign in again.\n');
    assert.equal((await login('bob@example.com')).status, 200);
    assert.equal(
      (await runCliCaptured(['user', 'enable', 'bob@example.com'])).stdout,
      'bob@example.com was not disabled.\n',
    );
    const one = await runCliCaptured(['user', 'disable', 'bob@example.com']);
    assert.equal(one.stdout, 'Disabled bob@example.com and ended 1 session.\n');
  });

  it('revoke-all refuses without --yes off a terminal, asks on one, and ends everything when confirmed', async () => {
    const live = await login('cy@example.com');
    const refused = await runTessera(['revoke-all'], { TESSERA_DATA_DIR: userDir });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /confirm with --yes/);
    const declined = await runCliCaptured(['revoke-all'], { interactive: true, answers: ['n'] });
    assert.equal(declined.code, 1);
    assert.match(declined.asked[0] ?? '', /ends every session of every user/);
    assert.match(declined.stderr, /Nothing was changed/);
    const kept = await refresh(live.body.refresh_token);
    assert.equal(kept.status, 200, 'refusing and declining changed nothing');

    const confirmed = await runCliCaptured(['revoke-all'], { interactive: true, answers: ['yes'] });
    assert.equal(confirmed.code, 0, confirmed.stderr);
    assert.match(confirmed.stdout, /^Ended \d+ sessions?; tokens issued before \S+Z are rejected\.\n$/);
    assert.equal((await refresh(kept.body.refresh_token)).status, 400);
    assert.equal((await call(server.url, 'GET', '/auth/me', { token: kept.body.access_token })).status, 401);

    await login('cy@example.com');
    const one = await runTessera(['revoke-all', '--yes'], { TESSERA_DATA_DIR: userDir });
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^Ended 1 session; /);
    assert.match(
      (await runTessera(['revoke-all', '-y'], { TESSERA_DATA_DIR: userDir })).stdout,
      /^Ended 0 sessions; /,
    );
  });

  it('asks on a real terminal (a pseudo-terminal from script(1))', {
    skip: terminalProblem() ?? false,
  }, async () => {
    const declined = await runOnTerminal(
      ['revoke-all'],
      { ...process.env, TESSERA_DATA_DIR: userDir },
      'no\n',
    );
    assert.equal(declined.code, 1, 'a declined confirmation exits 1');
    assert.match(declined.output, /Type "yes" to continue/);
    assert.match(declined.output, /Nothing was changed/);
  });
});
