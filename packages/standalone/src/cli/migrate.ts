import { type Command, EXIT } from './command.ts';
import { withStore } from './with-engine.ts';

/** `tessera migrate`. */
export const migrateCommand: Command = {
  path: ['migrate'],
  summary: 'create or upgrade the database schema',
  synopsis: '',
  description:
    'Applies pending schema migrations to the configured database (TESSERA_DATABASE_URL) and exits. ' +
    'The server also migrates at start, under a lock, so this is for running migrations ahead of a release.',
  args: { min: 0, max: 0 },
  examples: [
    'tessera migrate',
    'TESSERA_DATABASE_URL=postgres://tessera@db.internal/tessera tessera migrate',
  ],
  async run({ config, io }) {
    await withStore(config(), async () => undefined);
    io.out('The database schema is up to date.\n');
    return EXIT.ok;
  },
};
