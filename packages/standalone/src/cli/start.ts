import type { TesseraConfig } from '../config.ts';
import { createLogger } from '../log.ts';
import { createTesseraServer, type TesseraServer } from '../server.ts';
import { StartupError } from '../startup-error.ts';
import { type Command, EXIT } from './command.ts';

/** Listens, or closes the server and says which setting explains why it could not. */
async function listen(server: TesseraServer, config: TesseraConfig): Promise<string> {
  try {
    return await server.listen();
  } catch (error) {
    await server.close();
    const code = (error as NodeJS.ErrnoException).code;
    const where = `${config.host}:${config.port}`;
    if (code === 'EADDRINUSE') {
      throw new StartupError(
        'TESSERA_PORT',
        `${where} is in use by another process (EADDRINUSE): stop it, or choose another TESSERA_PORT.`,
        'config',
        { cause: error },
      );
    }
    if (code === 'EACCES') {
      throw new StartupError(
        'TESSERA_PORT',
        `this user may not listen on ${where} (EACCES; ports under 1024 need privileges): choose 1024 or above.`,
        'config',
        { cause: error },
      );
    }
    if (code === 'EADDRNOTAVAIL') {
      throw new StartupError(
        'TESSERA_HOST',
        `${config.host} is not an address of this machine (EADDRNOTAVAIL): use one of its addresses, or 0.0.0.0.`,
        'config',
        { cause: error },
      );
    }
    throw error;
  }
}

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
    let server: TesseraServer;
    let url: string;
    try {
      server = await createTesseraServer(config, { demo });
      url = await listen(server, config);
    } catch (error) {
      if (!(error instanceof StartupError)) throw error;
      // In the log's own format: a collector reading JSON lines sees the failure as one of them.
      createLogger({ level: 'error', format: config.logFormat }).error(
        `Tessera could not start: ${error.message}`,
        {
          setting: error.setting,
        },
      );
      return error.kind === 'unavailable' ? EXIT.unavailable : EXIT.config;
    }
    io.out(`Tessera is running at ${url}${demo ? ` (demo page: ${url}/)` : ''}\n`);
    await new Promise<void>((resolveStop) => {
      const stop = () => {
        server.close().then(resolveStop, resolveStop);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return EXIT.ok;
  },
};
