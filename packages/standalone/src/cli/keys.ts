import { ENGINE_DEFAULTS, SIGNING_ALGS, type SigningAlg } from '@tessera/core';
import { type Command, confirmed, EXIT, plural, UsageError, YES_OPTION } from './command.ts';
import { withEngine, withStore } from './with-engine.ts';

/** `tessera keys rotate`. */
export const keysRotateCommand: Command = {
  path: ['keys', 'rotate'],
  summary: 'new signing key (the old one stays published)',
  synopsis: '[--alg EdDSA|ES256|RS256]',
  description:
    'Makes a new signing key, which signs from now on. Running servers switch to it within 30 seconds; the ' +
    'old key stays in the JWKS until every token it signed has expired, so no token is refused.',
  options: {
    alg: { type: 'string', placeholder: 'A', help: 'the algorithm (default: TESSERA_SIGNING_ALG)' },
  },
  args: { min: 0, max: 0 },
  examples: ['tessera keys rotate', 'tessera keys rotate --alg ES256'],
  async run({ values, config: resolve, io }) {
    const config = resolve();
    const alg = (values.alg as string | undefined) ?? config.engine.signingAlg ?? ENGINE_DEFAULTS.signingAlg;
    if (!(SIGNING_ALGS as readonly string[]).includes(alg)) {
      throw new UsageError(`--alg must be one of ${SIGNING_ALGS.join(', ')}.`, ['keys', 'rotate']);
    }
    const kid = await withEngine(config, io, (engine) => engine.rotateSigningKey(alg as SigningAlg));
    io.out(
      `New signing key ${kid} (${alg}). Running servers switch to it within 30 seconds; the old key stays published until its tokens expire.\n`,
    );
    return EXIT.ok;
  },
};

/** `tessera keys list`. */
export const keysListCommand: Command = {
  path: ['keys', 'list'],
  summary: 'list signing keys and their state',
  synopsis: '',
  description:
    'Lists the signing keys, newest first: key id, algorithm, creation time, and "signing" or when it retired.',
  args: { min: 0, max: 0 },
  examples: ['tessera keys list'],
  async run({ config, io }) {
    await withStore(config(), async (store) => {
      for (const key of await store.listSigningKeys()) {
        const state =
          key.retiredAtMs === null ? 'signing' : `retired ${new Date(key.retiredAtMs).toISOString()}`;
        io.out(`${key.kid}\t${key.alg}\tcreated ${new Date(key.createdAtMs).toISOString()}\t${state}\n`);
      }
    });
    return EXIT.ok;
  },
};

/** `tessera keys purge`. */
export const keysPurgeCommand: Command = {
  path: ['keys', 'purge'],
  summary: 'emergency: delete every signing key (a stolen TESSERA_SECRET)',
  synopsis: '[--yes]',
  description:
    'For a stolen TESSERA_SECRET, which opens the signing keys sealed in the database: deletes every ' +
    'signing key, the one that signs and the retired ones still published, so none stays in the JWKS and ' +
    'no token they signed verifies. Stop every instance first; then start them with a new secret (the ' +
    'first makes a new key) and run tessera revoke-all. Needs the database only, not the secret. Asks ' +
    'for confirmation on a terminal; elsewhere (a script, CI) it needs --yes.',
  options: YES_OPTION,
  args: { min: 0, max: 0 },
  examples: ['tessera keys purge            # asks first', 'tessera keys purge --yes      # in a script'],
  async run(ctx) {
    const config = ctx.config();
    const asked = await confirmed(
      ctx,
      ['keys', 'purge'],
      'keys purge deletes every signing key',
      'This deletes every signing key: no access token verifies until the instances restart (with a new TESSERA_SECRET) and make a new key.',
    );
    if (!asked) return EXIT.failed;
    const deleted = await withStore(config, async (store) => {
      const keys = await store.listSigningKeys();
      for (const key of keys) await store.deleteSigningKey(key.kid);
      return keys.map((key) => key.kid);
    });
    ctx.io.out(
      `Deleted ${plural(deleted.length, 'signing key')}${deleted.length > 0 ? ` (${deleted.join(', ')})` : ''}. ` +
        'Start every instance with a new TESSERA_SECRET, then run tessera revoke-all.\n',
    );
    return EXIT.ok;
  },
};
