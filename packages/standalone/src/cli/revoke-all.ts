import { type Command, EXIT, plural, UsageError } from './command.ts';
import { withEngine } from './with-engine.ts';

/** `tessera revoke-all`. */
export const revokeAllCommand: Command = {
  path: ['revoke-all'],
  summary: 'emergency: end every session and token',
  synopsis: '[--yes]',
  description:
    'For a key or secret compromise: ends every session of every user and publishes a global not-before, so ' +
    'Tessera and every verifier refuse all access tokens issued before now. Everyone must sign in again. ' +
    'Asks for confirmation on a terminal; elsewhere (a script, CI) it needs --yes.',
  options: { yes: { type: 'boolean', short: 'y', help: 'confirm without asking' } },
  args: { min: 0, max: 0 },
  examples: ['tessera revoke-all            # asks first', 'tessera revoke-all --yes      # in a script'],
  async run({ values, config: resolve, io }) {
    const config = resolve();
    if (values.yes !== true) {
      if (!io.interactive) {
        throw new UsageError(
          'revoke-all ends every session of every user; not on a terminal, so confirm with --yes.',
          ['revoke-all'],
        );
      }
      const answer = await io.ask(
        'This ends every session of every user and rejects every access token issued before now.\nType "yes" to continue: ',
      );
      if (answer.trim().toLowerCase() !== 'yes') {
        io.err('Nothing was changed.\n');
        return EXIT.failed;
      }
    }
    const result = await withEngine(config, io, (engine) => engine.emergencyRevokeAll());
    io.out(
      `Ended ${plural(result.sessions, 'session')}; tokens issued before ${result.notBefore.toISOString()} are rejected.\n`,
    );
    return EXIT.ok;
  },
};
