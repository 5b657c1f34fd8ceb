import { parseArgs } from 'node:util';
import { createEngine, type WebhookEventView } from '@tessera/core';
import { ConfigError, resolveConfig, type TesseraConfig } from './config.ts';
import { openStore } from './open-store.ts';
import { loadOrCreateSecret } from './secret-file.ts';
import { createTesseraServer } from './server.ts';

const USAGE = `Usage: tessera <command> [--config file.json]

Commands:
  start [--demo]          run the server (settings from TESSERA_* variables or --config)
  migrate                 create or upgrade the database schema, then exit
  keys rotate [--alg A]   make a new signing key; the old one stays published until its tokens expire
  keys list               list signing keys (kid, algorithm, created, retired)
  revoke-all              emergency: end every session and reject every token issued before now
  user roles <email> <role,role,...>   set a user's roles (bumps their token version)
  user disable <email>    disable an account and end its sessions
  webhooks list [--dead | --state pending|delivered|dead] [--limit N]
                          list webhook events (default: dead ones), newest first, tokens redacted
  webhooks replay <id>    deliver a dead (or delivered) event again, under the same webhook-id
  help                    this text
`;

/** One outbox event as a line: id, type, state, attempts, created, last error, data (tokens redacted). */
function webhookLine(event: WebhookEventView): string {
  return [
    event.id,
    event.type,
    event.state,
    `attempts ${event.attempts}`,
    `created ${event.createdAt.toISOString()}`,
    event.lastError === null ? '-' : `last error: ${event.lastError}`,
    JSON.stringify(event.data),
  ].join('\t');
}

/** Writes a line to stdout. */
function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function withEngine<T>(
  config: TesseraConfig,
  work: (engine: Awaited<ReturnType<typeof createEngine>>) => Promise<T>,
): Promise<T> {
  const store = await openStore(config.databaseUrl);
  try {
    const { secret } = loadOrCreateSecret(config);
    // An admin command must not rotate keys as a side effect: keep the algorithm that signs now.
    const current = (await store.listSigningKeys()).find((key) => key.retiredAtMs === null);
    const engine = await createEngine({
      store,
      secret,
      issuer: config.issuer,
      audience: config.audience,
      signingAlg: (current?.alg as typeof config.signingAlg | undefined) ?? config.signingAlg,
      // The policy sets the token lifetime the keyring keeps retired keys for.
      policy: config.policy,
      accessTtlSeconds: config.accessTtlSeconds,
      clockLeewaySeconds: config.clockLeewaySeconds,
    });
    try {
      return await work(engine);
    } finally {
      await engine.close();
    }
  } finally {
    await store.close();
  }
}

/**
 * Runs the `tessera` command line with `argv` (without the node and script names). Resolves to the
 * process exit code; `start` resolves only when the server stops.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      demo: { type: 'boolean' },
      alg: { type: 'string' },
      help: { type: 'boolean' },
      dead: { type: 'boolean' },
      state: { type: 'string' },
      limit: { type: 'string' },
    },
  });
  const [command, sub, ...rest] = positionals;
  if (!command || command === 'help' || values.help) {
    say(USAGE);
    return command && command !== 'help' ? 0 : command ? 0 : 2;
  }
  let config: TesseraConfig;
  try {
    config = resolveConfig(values.config ? { configFile: values.config } : {});
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`tessera: invalid configuration: ${error.message}\n`);
      return 78;
    }
    throw error;
  }

  switch (command) {
    case 'start': {
      const server = await createTesseraServer(config, { demo: values.demo ?? false });
      const url = await server.listen();
      say(`Tessera is running at ${url}${values.demo ? ` (demo page: ${url}/)` : ''}`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          server.close().then(resolve, resolve);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      return 0;
    }
    case 'migrate': {
      const store = await openStore(config.databaseUrl);
      await store.close();
      say('The database schema is up to date.');
      return 0;
    }
    case 'keys': {
      if (sub === 'rotate') {
        const alg = values.alg ?? config.signingAlg;
        if (!['EdDSA', 'ES256', 'RS256'].includes(alg)) {
          process.stderr.write('tessera: --alg must be EdDSA, ES256 or RS256\n');
          return 2;
        }
        const kid = await withEngine(config, (engine) => engine.rotateSigningKey(alg as 'EdDSA'));
        say(
          `New signing key ${kid} (${alg}). Running servers switch to it within 30 seconds; the old key stays published until its tokens expire.`,
        );
        return 0;
      }
      if (sub === 'list') {
        const store = await openStore(config.databaseUrl);
        try {
          for (const key of await store.listSigningKeys()) {
            const retired =
              key.retiredAtMs === null ? 'signing' : `retired ${new Date(key.retiredAtMs).toISOString()}`;
            say(`${key.kid}\t${key.alg}\tcreated ${new Date(key.createdAtMs).toISOString()}\t${retired}`);
          }
        } finally {
          await store.close();
        }
        return 0;
      }
      break;
    }
    case 'revoke-all': {
      const result = await withEngine(config, (engine) => engine.emergencyRevokeAll());
      say(
        `Ended ${result.sessions} sessions; tokens issued before ${result.notBefore.toISOString()} are rejected.`,
      );
      return 0;
    }
    case 'user': {
      const [email, roles] = rest;
      if (!email || (sub === 'roles' && roles === undefined) || (sub !== 'roles' && sub !== 'disable')) break;
      return withEngine(config, async (engine) => {
        const user = await engine.findUserByEmail(email);
        if (!user) {
          process.stderr.write(`tessera: no user with email ${email}\n`);
          return 1;
        }
        if (sub === 'roles') {
          const list = (roles ?? '')
            .split(',')
            .map((r) => r.trim())
            .filter(Boolean);
          const result = await engine.updateUser(user.id, { roles: list });
          say(
            `Roles of ${email}: ${list.join(', ') || '(none)'}; token version ${result.profile.tokenVersion}.`,
          );
        } else {
          await engine.updateUser(user.id, { disabled: true });
          say(`Disabled ${email} and ended their sessions.`);
        }
        return 0;
      });
    }
    case 'webhooks': {
      if (sub === 'list' && rest.length === 0) {
        const state = values.dead ? 'dead' : (values.state ?? 'dead');
        const limit = values.limit === undefined ? 50 : Number(values.limit);
        return withEngine(config, async (engine) => {
          const events = await engine.listWebhookEvents(state as 'dead', limit);
          for (const event of events) say(webhookLine(event));
          if (events.length === 0) say(`No ${state} webhook events.`);
          return 0;
        });
      }
      const [id] = rest;
      if (sub === 'replay' && id !== undefined && rest.length === 1) {
        return withEngine(config, async (engine) => {
          if (!(await engine.replayWebhookEvent(id))) {
            process.stderr.write(`tessera: no dead or delivered webhook event ${id}\n`);
            return 1;
          }
          say(`Event ${id} is pending again; a running server delivers it within seconds.`);
          return 0;
        });
      }
      break;
    }
  }
  process.stderr.write(`tessera: unknown command "${positionals.join(' ')}"\n\n${USAGE}`);
  return 2;
}
