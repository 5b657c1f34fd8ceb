import { createLogger } from '../log.ts';
import { createTesseraServer } from '../server.ts';
import { StartupError } from '../startup-error.ts';
import { type Command, EXIT } from './command.ts';

/** `tessera start`: runs the server until SIGINT or SIGTERM. */
export const startCommand: Command = {
  path: ['start'],
  summary: 'run the server',
  synopsis: '[--demo]',
  description:
    'Runs the standalone server with the settings from TESSERA_* variables (or --config), until SIGINT or ' +
    'SIGTERM. The first start creates the data directory, the SQLite database and a generated secret. ' +
    'Logs go to stderr, as human lines on a terminal and JSON lines otherwise (TESSERA_LOG_FORMAT).',
  options: { demo: { type: 'boolean', help: 'also serve the demo page at /' } },
  args: { min: 0, max: 0 },
  examples: [
    'tessera start --demo',
    'TESSERA_PORT=8080 TESSERA_LOG_FORMAT=json tessera start',
    'tessera start --config /etc/tessera.json',
  ],
  async run({ values, config: resolve, io }) {
    const config = resolve();
    const demo = values.demo === true;
    let server: Awaited<ReturnType<typeof createTesseraServer>>;
    try {
      server = await createTesseraServer(config, { demo });
    } catch (error) {
      if (!(error instanceof StartupError)) throw error;
      // In the log's own format: a collector reading JSON lines sees the failure as one of them.
      createLogger({
        level: config.logLevel === 'silent' ? 'error' : config.logLevel,
        format: config.logFormat,
      }).error(`Tessera could not start: ${error.message}`, { setting: error.setting });
      return error.kind === 'unavailable' ? EXIT.unavailable : EXIT.config;
    }
    const url = await server.listen();
    io.out(`Tessera is running at ${url}${demo ? ` (demo page: ${url}/)` : ''}\n`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        server.close().then(resolve, resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return EXIT.ok;
  },
};
