// The standalone configuration served by Fastify over the same handler (`@tessera/server/fastify`), for
// compare-hosts.ts only: it answers whether Fastify still earns its place as the standalone host.
// Run: node --conditions=@tessera/source packages/standalone/scripts/fastify-host.ts (TESSERA_* settings).
import { tesseraRoutes } from '@tessera/server/fastify';
import { createTesseraServer, resolveConfig } from '@tessera/standalone';
import Fastify from 'fastify';

const config = resolveConfig();
const server = await createTesseraServer(config);
const app = Fastify({ logger: false, forceCloseConnections: 'idle' });
await app.register(
  tesseraRoutes({
    engine: server.engine,
    cookieSecure: config.cookieSecure,
    allowedOrigins: config.allowedOrigins,
    serviceToken: config.serviceToken,
    onResponse: (info) => server.metrics.observe(info),
  }),
);
const url = await app.listen({ port: config.port, host: config.host });
process.stdout.write(`Tessera (Fastify host) is running at ${url}\n`);
process.once('SIGTERM', () => {
  app.close().then(
    () => server.close(),
    () => server.close(),
  );
});
