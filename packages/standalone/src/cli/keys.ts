import { ENGINE_DEFAULTS, SIGNING_ALGS, type SigningAlg } from '@tessera/core';
import { type Command, EXIT, UsageError } from './command.ts';
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
