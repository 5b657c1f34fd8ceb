import { type Command, confirmed, EXIT, plural, YES_OPTION } from './command.ts';
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
  options: YES_OPTION,
  args: { min: 0, max: 0 },
  examples: ['tessera revoke-all            # asks first', 'tessera revoke-all --yes      # in a script'],
  async run(ctx) {
    const config = ctx.config();
    const asked = await confirmed(
      ctx,
      ['revoke-all'],
      'revoke-all ends every session of every user',
      'This ends every session of every user and rejects every access token issued before now.',
    );
    if (!asked) return EXIT.failed;
    const result = await withEngine(config, ctx.io, (engine) => engine.emergencyRevokeAll());
    ctx.io.out(
      `Ended ${plural(result.sessions, 'session')}; tokens issued before ${result.notBefore.toISOString()} are rejected.\n`,
    );
    return EXIT.ok;
  },
};
